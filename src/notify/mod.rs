//! The notification port (configure's and publish's audit sink): each record published as one JSON message, over SNS.

use async_trait::async_trait;

/// A notification that could not be published.
#[derive(Debug, thiserror::Error)]
#[error("SNS Publish to {topic_arn} failed")]
pub struct NotifyError {
    /// The topic.
    pub topic_arn: String,
    /// The SDK's error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Where applied changes are announced.
#[async_trait]
pub trait ChangeNotifier: Send + Sync {
    /// Publishes `message` (one audit record: never a token or a secret).
    async fn notify(&self, message: &str) -> Result<(), NotifyError>;
}

/// An SNS topic, reached with the AWS SDK's standard settings in the topic's own region.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    subject: String,
}

impl SnsNotifier {
    /// A notifier of `topic_arn` (`arn:aws:sns:{region}:{account}:{name}`).
    pub async fn new(topic_arn: &str) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = topic_arn.split(':').nth(3).filter(|r| !r.is_empty()) {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        SnsNotifier {
            client: aws_sdk_sns::Client::new(&loader.load().await),
            topic_arn: topic_arn.to_owned(),
            subject: "Genesys EventBridge integration changed".to_owned(),
        }
    }

    /// The same notifier, with `subject` on its messages (email subscribers see it).
    #[must_use]
    pub fn with_subject(mut self, subject: &str) -> Self {
        subject.clone_into(&mut self.subject);
        self
    }
}

#[async_trait]
impl ChangeNotifier for SnsNotifier {
    async fn notify(&self, message: &str) -> Result<(), NotifyError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&self.subject)
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| NotifyError {
                topic_arn: self.topic_arn.clone(),
                source: Box::new(error),
            })
    }
}
