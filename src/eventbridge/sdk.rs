//! The EventBridge port over the AWS SDK (region and credentials from the standard chain; `AWS_ENDPOINT_URL_EVENTBRIDGE` for a local server).

use super::{EventBridgeError, EventSources};
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;

/// EventBridge in one region.
#[derive(Debug, Clone)]
pub struct SdkEventSources {
    client: Client,
}

impl SdkEventSources {
    /// A client of EventBridge in `region`, with the SDK's standard settings otherwise.
    pub async fn in_region(region: &str) -> Self {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
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
