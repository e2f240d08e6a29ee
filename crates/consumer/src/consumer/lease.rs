//! The event's lease on its target: claiming it in turn, and ending it by completing, holding or releasing.

use super::acting::Acted;
use super::report::StepTimings;
use super::settings::Invocation;
use super::work::Work;
use super::{Consumer, timed};
use crate::dedup::{ClaimOutcome, ClaimRequest, DedupError, Lease};
use gev_core::deadline::{Deadline, now_epoch_ms};
use gev_core::domain::{DedupKey, Outcome};
use gev_core::telemetry;
use std::future::Future;
use std::time::{Duration, Instant};
use tracing::{Span, field, info_span};

impl Consumer {
    /// Claims the event's target for `work` (in turn, within `deadline`), recording the dedup
    /// result on the spans; an event that may not act now gets its outcome instead: `duplicate`,
    /// or `failed` (leased by another event, or the store failed).
    pub(super) async fn claim_target(
        &self,
        request: &ClaimRequest,
        work: &Work,
        deadline: Deadline,
        steps: &mut StepTimings,
    ) -> Result<Lease, Outcome> {
        let key = &request.key;
        let claim_span = info_span!("claim", dedup.key = %key, dedup.result = field::Empty);
        let claimed = timed(
            &mut steps.claim,
            claim_span.clone(),
            within(deadline, self.claim_in_turn(request, deadline)),
        )
        .await;
        let dedup_result = match &claimed {
            Ok(ClaimOutcome::Claimed(lease)) if lease.took_over => "took-over",
            Ok(ClaimOutcome::Claimed(_)) => "claimed",
            Ok(ClaimOutcome::Completed { .. }) => "duplicate",
            Ok(ClaimOutcome::Leased { .. }) => "leased",
            Err(_) => "error",
        };
        claim_span.record("dedup.result", dedup_result);
        Span::current().record("dedup.result", dedup_result);
        match claimed {
            Ok(ClaimOutcome::Claimed(lease)) => Ok(lease),
            Ok(ClaimOutcome::Completed {
                outcome,
                same_payload,
            }) => {
                if !same_payload {
                    tracing::warn!(
                        dedup.key = %key,
                        dedup.payload_mismatch = true,
                        "a different payload arrived under an already completed dedup key; \
                         not acted on, reported as a duplicate with a payload mismatch"
                    );
                }
                Err(Outcome::Duplicate {
                    previous: Some(outcome),
                    same_payload,
                })
            }
            Ok(ClaimOutcome::Leased { lease_until_ms }) => {
                let wait_ms = lease_until_ms.saturating_sub(now_epoch_ms()).max(0);
                let reason = format!(
                    "another delivery for this {} holds its lease (ends in {wait_ms} ms); \
                     deliver again later",
                    work.target_name()
                );
                Err(Outcome::Failed { reason })
            }
            Err(error) => {
                telemetry::record_exception(&claim_span, error.kind(), &error);
                let reason = format!("dedup claim failed: {}", gev_core::error_chain(&error));
                if error.is_retryable() {
                    return Err(Outcome::Failed { reason });
                }
                tracing::error!(error = %reason, "the dedup store is misconfigured");
                Err(Outcome::Misconfigured { reason })
            }
        }
    }

    /// Claims the event's target, waiting while another event holds its lease: briefly (at most
    /// `lease_wait`, and half the work's time left), polling with cheap reads; then gives up `Leased`.
    pub(super) async fn claim_in_turn(
        &self,
        request: &ClaimRequest,
        deadline: Deadline,
    ) -> Result<ClaimOutcome, DedupError> {
        let patience = self.settings.lease_wait.min(deadline.remaining() / 2);
        let give_up_at = Instant::now() + patience;
        let mut pause = LEASE_POLL_FIRST;
        loop {
            let claimed = self.store.claim(request).await?;
            let ClaimOutcome::Leased { .. } = claimed else {
                return Ok(claimed);
            };
            loop {
                if Instant::now() + pause > give_up_at {
                    return Ok(claimed);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LEASE_POLL_MAX);
                if self.store.lease_end(&request.key.target).await?.is_none() {
                    break;
                }
            }
        }
    }

    /// Ends the lease: completes the event with a terminal outcome (recording the write it made),
    /// releases the lease after a retryable failure, or, when a write may have been applied,
    /// holds it for `lease_margin` more (never longer than it was), so that no other event acts
    /// before that write has landed and shows in Genesys' answers.
    pub(super) async fn finish(
        &self,
        request: &ClaimRequest,
        lease: &Lease,
        acted: &Acted,
        deadline: Deadline,
        steps: &mut StepTimings,
    ) {
        let key = &request.key;
        let finish = if acted.outcome.is_terminal() {
            Finish::Complete
        } else if acted.write_may_have_applied {
            let settle_until = now_epoch_ms()
                .saturating_add(self.settings.lease_margin.as_millis() as i64)
                .min(request.lease_until_ms);
            tracing::warn!(
                dedup.key = %key,
                lease_until_ms = settle_until,
                "the write may have been applied: the lease is held until it can show"
            );
            if settle_until >= request.lease_until_ms {
                return; // the lease ends by then anyway
            }
            Finish::Hold(settle_until)
        } else {
            Finish::Release
        };
        let finish_span = info_span!("finish", otel.name = finish.name(), dedup.key = %key);
        let result = timed(
            &mut steps.complete,
            finish_span.clone(),
            within(deadline, async {
                match finish {
                    Finish::Complete => {
                        let applied = acted.applied.as_ref();
                        self.store
                            .complete(request, lease, acted.outcome.name(), applied)
                            .await
                    }
                    Finish::Hold(until_ms) => self.store.hold_until(request, until_ms).await,
                    Finish::Release => self.store.release(request).await,
                }
            }),
        )
        .await;
        if let Err(error) = result {
            telemetry::record_exception(&finish_span, error.kind(), &error);
            // After a complete fails, the write (if any) happened; a redelivery after the lease
            // re-reads Genesys, which then shows it, so nothing is applied twice. After a
            // release or hold fails, a redelivery waits for the lease to end.
            let error = gev_core::error_chain(&error);
            tracing::warn!(%error, dedup.key = %key, "could not finish the dedup claim");
        }
    }

    pub(super) fn claim_request(
        &self,
        key: DedupKey,
        payload_hash: String,
        invocation: &Invocation,
    ) -> ClaimRequest {
        let now_ms = now_epoch_ms();
        let lease_end = invocation
            .deadline
            .epoch_ms()
            .saturating_add(self.settings.lease_margin.as_millis() as i64);
        let lease_cap = now_ms.saturating_add(self.settings.max_lease.as_millis() as i64);
        ClaimRequest {
            owner: invocation.owner.for_event(&key.event),
            key,
            lease_until_ms: lease_end.min(lease_cap),
            expires_at_s: (now_ms / 1_000).saturating_add(self.settings.dedup_ttl.as_secs() as i64),
            payload_hash,
        }
    }
}

/// Time kept after the dedup store's last call for the span flush and the answer to Lambda.
pub(super) const ANSWER_TIME: Duration = Duration::from_millis(500);

/// Runs a dedup store call, giving up when `deadline` comes first (the SDK's own timeouts and
/// retries know nothing of the invocation's deadline).
pub(super) async fn within<T>(
    deadline: Deadline,
    call: impl Future<Output = Result<T, DedupError>>,
) -> Result<T, DedupError> {
    match tokio::time::timeout_at(deadline.instant(), call).await {
        Ok(result) => result,
        Err(_) => Err(DedupError::Unavailable {
            message: "no answer before the invocation's deadline".into(),
            source: None,
        }),
    }
}

/// The first pause of an event waiting for another one's lease on its target; it doubles up to
/// [`LEASE_POLL_MAX`].
const LEASE_POLL_FIRST: Duration = Duration::from_millis(20);
const LEASE_POLL_MAX: Duration = Duration::from_millis(200);

/// How an event's lease ends.
#[derive(Debug, Clone, Copy)]
enum Finish {
    /// A terminal outcome: the event is recorded and the lease freed.
    Complete,
    /// A write may have been applied: the lease is kept until then (epoch ms).
    Hold(i64),
    /// A retryable failure before any write could land: the lease is freed.
    Release,
}

impl Finish {
    /// The name of the step's span.
    fn name(self) -> &'static str {
        match self {
            Finish::Complete => "complete",
            Finish::Hold(_) => "hold",
            Finish::Release => "release",
        }
    }
}
