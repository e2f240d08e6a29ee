//! The `DeadLetterQueue` over Amazon SQS (AWS SDK, standard settings; `AWS_ENDPOINT_URL_SQS` for a local server): short receives of up to 10 messages hidden for a visibility timeout, deletes and releases by receipt handle, with connect, attempt and operation timeouts.

use super::{DeadLetter, DeadLetterQueue, QueueError};
use async_trait::async_trait;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// How long a received message stays hidden from other receivers: longer than a batch's sends
/// with all their retries take, so that no other reader redrives it meanwhile. Kept messages
/// are made visible again at the end of the run.
pub(super) const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a receive waits for messages. Above 0, SQS asks all of its servers (a wait of 0
/// samples some, and may answer empty while messages remain); 1 s keeps the last, empty
/// receive short.
pub(super) const RECEIVE_WAIT: Duration = Duration::from_secs(1);

/// One SQS queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsDeadLetterQueue {
    client: Client,
    queue_url: String,
}

impl SqsDeadLetterQueue {
    /// The client's timeouts: 3 s to connect, 10 s per attempt (a receive waits
    /// [`RECEIVE_WAIT`]), 30 s per call with the SDK's standard retries within.
    pub fn timeouts() -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(30))
            .build()
    }

    /// The queue at `queue_url`, in the region its host names
    /// (`https://sqs.{region}.amazonaws.com/{account}/{name}`), or the standard chain's region
    /// for another host (a local server).
    pub async fn new(queue_url: &str) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(Self::timeouts());
        if let Some(region) = region_of(queue_url) {
            loader = loader.region(aws_config::Region::new(region));
        }
        SqsDeadLetterQueue {
            client: Client::new(&loader.load().await),
            queue_url: queue_url.to_owned(),
        }
    }
}

/// The region of an SQS queue URL on AWS (`sqs.{region}.amazonaws.com[.cn]` or the legacy
/// `{region}.queue.amazonaws.com`).
pub(super) fn region_of(queue_url: &str) -> Option<String> {
    let host = queue_url
        .split_once("://")
        .map_or(queue_url, |(_, rest)| rest)
        .split('/')
        .next()?;
    let labels: Vec<&str> = host.split('.').collect();
    let region = match labels.as_slice() {
        ["sqs", region, "amazonaws", ..] | [region, "queue", "amazonaws", ..] => *region,
        _ => return None,
    };
    Some(region.to_owned()).filter(|region| !region.is_empty())
}

/// The queue error of an SDK error: a service's answer is retryable only for throttling and
/// its own failures; a call never built is not; anything else (timeouts, lost connections,
/// unreadable answers) is.
fn queue_error<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |error| {
        let retryable = match &error {
            SdkError::ServiceError(service) => {
                service.raw().status().is_server_error()
                    || service.err().code().is_some_and(|code| {
                        code.contains("Throttl")
                            || code.contains("RequestThrottled")
                            || code.contains("InternalError")
                            || code.contains("ServiceUnavailable")
                    })
            }
            SdkError::ConstructionFailure(_) => false,
            _ => true,
        };
        QueueError {
            operation,
            retryable,
            source: Box::new(error),
        }
    }
}

#[async_trait]
impl DeadLetterQueue for SqsDeadLetterQueue {
    async fn receive(&self, max: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .wait_time_seconds(i32::try_from(RECEIVE_WAIT.as_secs()).unwrap_or(1))
            .visibility_timeout(i32::try_from(VISIBILITY_TIMEOUT.as_secs()).unwrap_or(300))
            .send()
            .await
            .map_err(queue_error("ReceiveMessage"))?;
        Ok(output
            .messages()
            .iter()
            .filter_map(|message| {
                Some(DeadLetter {
                    message_id: message.message_id()?.to_owned(),
                    receipt_handle: message.receipt_handle()?.to_owned(),
                    body: message.body().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    async fn delete(&self, message: &DeadLetter) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&message.receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(queue_error("DeleteMessage"))
    }

    async fn release(&self, message: &DeadLetter) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&message.receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map(|_| ())
            .map_err(queue_error("ChangeMessageVisibility"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_read_from_an_aws_queue_url_and_not_invented_for_a_local_one() {
        assert_eq!(
            region_of("https://sqs.eu-west-1.amazonaws.com/123456789012/dlq").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of("https://us-east-2.queue.amazonaws.com/123456789012/dlq").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_of("http://127.0.0.1:5000/123456789012/dlq"), None);
    }
}
