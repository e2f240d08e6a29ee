//! The `EventSink` over EventBridge's PutEvents (AWS SDK, standard settings; `AWS_ENDPOINT_URL_EVENTBRIDGE` for a local server).

use super::send::{EntryAnswer, EventSink, SinkError};
use super::transform::Entry;
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::primitives::{DateTime, DateTimeFormat};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

/// One event bus (a name or an ARN).
#[derive(Debug, Clone)]
pub struct BusSink {
    client: Client,
    bus: String,
}

impl BusSink {
    /// The bus `bus`, reached with `client`.
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        BusSink {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventSink for BusSink {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryAnswer>, SinkError> {
        let requests: Vec<PutEventsRequestEntry> =
            entries
                .iter()
                .map(|entry| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(&entry.source)
                        .detail_type(&entry.detail_type)
                        .detail(&entry.detail)
                        .set_time(entry.time.as_deref().and_then(|time| {
                            DateTime::from_str(time, DateTimeFormat::DateTime).ok()
                        }))
                        .build()
                })
                .collect();
        let output = self
            .client
            .put_events()
            .set_entries(Some(requests))
            .send()
            .await
            .map_err(|error| {
                let retryable = match &error {
                    SdkError::ServiceError(service) => {
                        matches!(
                            service.err().code(),
                            Some("ThrottlingException" | "InternalException" | "InternalFailure")
                        ) || service.raw().status().is_server_error()
                    }
                    SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
                    _ => false,
                };
                SinkError {
                    retryable,
                    source: Box::new(error),
                }
            })?;
        Ok(output
            .entries()
            .iter()
            .map(|answer| match (answer.event_id(), answer.error_code()) {
                (Some(id), None) => EntryAnswer::Accepted {
                    event_id: id.to_owned(),
                },
                (_, code) => EntryAnswer::Failed {
                    code: code.unwrap_or("Unknown").to_owned(),
                    message: answer.error_message().unwrap_or_default().to_owned(),
                },
            })
            .collect())
    }
}
