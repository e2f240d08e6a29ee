//! The `EventSink` over EventBridge's PutEvents (AWS SDK, standard settings; `AWS_ENDPOINT_URL_EVENTBRIDGE` for a local server).

use super::send::{EntryAnswer, EventSink, SinkError};
use super::transform::Entry;
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::primitives::DateTime;
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
        let requests: Vec<PutEventsRequestEntry> = entries
            .iter()
            .map(|entry| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(&entry.source)
                    .detail_type(&entry.detail_type)
                    .detail(&entry.detail)
                    .set_time(entry.time.as_deref().and_then(sdk_time))
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
                    // An answer from the bus: only throttling and its own failures pass.
                    SdkError::ServiceError(service) => {
                        matches!(
                            service.err().code(),
                            Some("ThrottlingException" | "InternalException" | "InternalFailure")
                        ) || service.raw().status().is_server_error()
                    }
                    // Never sent: the request could not even be built.
                    SdkError::ConstructionFailure(_) => false,
                    // A timeout, a connection lost, an answer cut mid-body or unreadable
                    // (`ResponseError`): the bus may have taken the entries or not. That is a
                    // failure to try again, never a refusal; a copy is harmless, since the
                    // bridge id makes it one event to the consumer.
                    _ => true,
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

/// An entry's `Time` (RFC 3339, as `transform` makes it) as the SDK's date-time.
fn sdk_time(time: &str) -> Option<DateTime> {
    let time = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    Some(DateTime::from_secs_and_nanos(
        time.timestamp(),
        time.timestamp_subsec_nanos(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_with_an_offset_or_fractions_is_sent_as_the_same_instant() {
        let with_offset = sdk_time("2026-11-23T12:00:00.250+02:00").unwrap();

        assert_eq!(with_offset.secs(), 1_795_428_000);
        assert_eq!(with_offset.subsec_nanos(), 250_000_000);
        assert_eq!(sdk_time("23/11/2026"), None);
    }
}
