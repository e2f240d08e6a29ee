//! The EventBridge port over the AWS SDK (region and credentials from the standard chain; `AWS_ENDPOINT_URL_EVENTBRIDGE` for a local server), with connect, attempt and operation timeouts.

use super::{EventBridgeError, EventSources};
use async_trait::async_trait;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use std::time::Duration;

/// EventBridge in one region.
#[derive(Debug, Clone)]
pub struct SdkEventSources {
    client: Client,
}

impl SdkEventSources {
    /// The client's timeouts: 3 s to connect, 5 s per attempt, 15 s per call in all (the SDK's
    /// standard retries within it). Without them a call to an endpoint that never answers
    /// waits forever.
    pub fn timeouts() -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(15))
            .build()
    }

    /// A client of EventBridge in `region`, with [`SdkEventSources::timeouts`] and the SDK's
    /// standard settings otherwise.
    pub async fn in_region(region: &str) -> Self {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
            .timeout_config(Self::timeouts())
            .load()
            .await;
        SdkEventSources {
            client: Client::new(&shared),
        }
    }
}

fn unavailable(
    operation: &'static str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> EventBridgeError {
    move |source| EventBridgeError::Unavailable { operation, source }
}

#[async_trait]
impl EventSources for SdkEventSources {
    async fn source_state(&self, name: &str) -> Result<Option<String>, EventBridgeError> {
        match self.client.describe_event_source().name(name).send().await {
            Ok(output) => Ok(Some(
                output
                    .state()
                    .map_or_else(|| "UNKNOWN".to_owned(), |state| state.as_str().to_owned()),
            )),
            Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(error) => Err(unavailable("DescribeEventSource")(Box::new(error))),
        }
    }

    async fn bus_exists(&self, name: &str) -> Result<bool, EventBridgeError> {
        match self.client.describe_event_bus().name(name).send().await {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(error) => Err(unavailable("DescribeEventBus")(Box::new(error))),
        }
    }

    async fn create_partner_bus(&self, name: &str) -> Result<(), EventBridgeError> {
        self.client
            .create_event_bus()
            .name(name)
            .event_source_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| unavailable("CreateEventBus")(Box::new(error)))
    }
}

/// An EventBridge client for `bus` (a name, or an ARN whose region it then uses) through the
/// standard AWS SDK chain (`AWS_ENDPOINT_URL_EVENTBRIDGE` for a local server). The SDK's own
/// retries are off: publish retries per entry and counts every attempt it makes.
pub async fn client_for_bus(bus: &str) -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(10))
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::disabled());
    if let Some(region) = bus
        .strip_prefix("arn:")
        .and_then(|arn| arn.split(':').nth(2))
        .filter(|region| !region.is_empty())
    {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    Client::new(&loader.load().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_event_sources_client_gives_up_on_an_endpoint_that_never_answers() {
        let sources = SdkEventSources::in_region("eu-west-1").await;

        let config = sources.client.config();
        let timeouts = config.timeout_config().expect("timeouts set");

        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(15)));
    }
}
