//! The notification port (configure's and publish's audit sink): each record published as one JSON message, over SNS, with connect, attempt and operation timeouts (a topic that never answers costs a bounded wait).

use async_trait::async_trait;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

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
    /// The SNS client's timeouts: 3 s to connect, 5 s per attempt, 10 s per Publish in all (the
    /// SDK's standard retries within it). Without them the SDK waits for an answer forever.
    pub fn timeouts() -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(10))
            .build()
    }

    /// A notifier of `topic_arn` (`arn:aws:sns:{region}:{account}:{name}`), in the topic's
    /// region, with the standard AWS settings and [`SnsNotifier::timeouts`].
    pub async fn new(topic_arn: &str) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(Self::timeouts());
        if let Some(region) = topic_arn.split(':').nth(3).filter(|r| !r.is_empty()) {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        Self::from_client(aws_sdk_sns::Client::new(&loader.load().await), topic_arn)
    }

    /// A notifier of `topic_arn` through `client` as it is configured (tests: a local endpoint,
    /// short timeouts).
    pub fn from_client(client: aws_sdk_sns::Client, topic_arn: &str) -> Self {
        SnsNotifier {
            client,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sns_client_gives_up_on_a_topic_that_never_answers() {
        let notifier = SnsNotifier::new("arn:aws:sns:eu-west-1:123456789012:audit").await;

        let config = notifier.client.config();
        let timeouts = config.timeout_config().expect("timeouts set");

        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(
            config.region().map(ToString::to_string).as_deref(),
            Some("eu-west-1")
        );
    }
}
