//! The `Replays` port over EventBridge's DescribeArchive, StartReplay and DescribeReplay (AWS SDK, standard settings and retries; `AWS_ENDPOINT_URL_EVENTBRIDGE` for a local server), with connect, attempt and operation timeouts.

use super::{Archive, ReplayError, ReplayRequest, ReplayState, ReplayStatus, Replays, Started};
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::primitives::DateTime as SdkTime;
use aws_sdk_eventbridge::types::ReplayDestination;
use chrono::{DateTime, Utc};

/// EventBridge in one region.
#[derive(Debug, Clone)]
pub struct SdkReplays {
    client: Client,
}

impl SdkReplays {
    /// A client in the region of the first ARN of `arns` that names one (an archive's, a
    /// bus's), else the standard chain's, with the EventBridge port's timeouts.
    pub async fn new(arns: &[&str]) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(crate::eventbridge::SdkEventSources::timeouts());
        if let Some(region) = arns.iter().find_map(|arn| {
            arn.strip_prefix("arn:")
                .and_then(|rest| rest.split(':').nth(2))
                .filter(|region| !region.is_empty())
        }) {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        SdkReplays {
            client: Client::new(&loader.load().await),
        }
    }
}

/// The port's error for an SDK error: a validation or refusal is [`ReplayError::Refused`],
/// everything else (throttling, 5xx, timeouts, no credentials) [`ReplayError::Unavailable`].
fn replay_error<E>(operation: &'static str, error: SdkError<E>) -> ReplayError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let refused = match &error {
        SdkError::ServiceError(service) => {
            service.raw().status().is_client_error()
                && !service.err().code().is_some_and(|code| {
                    code.contains("Throttl") || code == "LimitExceededException"
                })
        }
        SdkError::ConstructionFailure(_) => true,
        _ => false,
    };
    if refused {
        ReplayError::Refused {
            operation,
            source: Box::new(error),
        }
    } else {
        ReplayError::Unavailable {
            operation,
            source: Box::new(error),
        }
    }
}

fn sdk_time(time: DateTime<Utc>) -> SdkTime {
    SdkTime::from_secs_and_nanos(time.timestamp(), time.timestamp_subsec_nanos())
}

fn utc(time: &SdkTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

#[async_trait]
impl Replays for SdkReplays {
    async fn archive(&self, name: &str) -> Result<Archive, ReplayError> {
        let output = match self
            .client
            .describe_archive()
            .archive_name(name)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if error.code() == Some("ResourceNotFoundException") => {
                return Err(ReplayError::ArchiveNotFound(name.to_owned()));
            }
            Err(error) => return Err(replay_error("DescribeArchive", error)),
        };
        Ok(Archive {
            arn: output.archive_arn().unwrap_or_default().to_owned(),
            bus_arn: output.event_source_arn().unwrap_or_default().to_owned(),
            state: output
                .state()
                .map_or_else(|| "UNKNOWN".to_owned(), |state| state.as_str().to_owned()),
            event_count: Some(output.event_count()),
        })
    }

    async fn start(&self, request: &ReplayRequest) -> Result<Started, ReplayError> {
        let destination = ReplayDestination::builder()
            .arn(&request.bus_arn)
            .set_filter_arns((!request.rules.is_empty()).then(|| request.rules.clone()))
            .build()
            .map_err(|error| ReplayError::Refused {
                operation: "StartReplay",
                source: Box::new(error),
            })?;
        let answer = self
            .client
            .start_replay()
            .replay_name(&request.name)
            .description("genesys-eventbridge replay")
            .event_source_arn(&request.archive_arn)
            .event_start_time(sdk_time(request.from))
            .event_end_time(sdk_time(request.to))
            .destination(destination)
            .send()
            .await;
        match answer {
            Ok(output) => Ok(Started::New(
                output.state().map_or(ReplayState::Starting, |state| {
                    ReplayState::from_name(state.as_str())
                }),
            )),
            Err(error) if error.code() == Some("ResourceAlreadyExistsException") => {
                Ok(Started::Exists)
            }
            Err(error) => Err(replay_error("StartReplay", error)),
        }
    }

    async fn describe(&self, name: &str) -> Result<ReplayStatus, ReplayError> {
        let output = match self.client.describe_replay().replay_name(name).send().await {
            Ok(output) => output,
            // Just started, a replay may not be visible yet (EventBridge is eventually
            // consistent): another look may find it.
            Err(error) if error.code() == Some("ResourceNotFoundException") => {
                return Err(ReplayError::Unavailable {
                    operation: "DescribeReplay",
                    source: Box::new(error),
                });
            }
            Err(error) => return Err(replay_error("DescribeReplay", error)),
        };
        Ok(ReplayStatus {
            state: output
                .state()
                .map_or(ReplayState::Other("UNKNOWN".to_owned()), |state| {
                    ReplayState::from_name(state.as_str())
                }),
            reason: output.state_reason().map(str::to_owned),
            last_replayed: output.event_last_replayed_time().and_then(utc),
        })
    }
}
