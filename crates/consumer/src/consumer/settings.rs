//! The consumer's business settings and the invocation an event is processed in.

use crate::dedup::OwnerToken;
use gev_core::deadline::Deadline;
use gev_core::domain::{DispositionCodeId, MediaType, WrapupPolicy, WrapupTrigger};
use gev_genesys::WrapupStyle;
use std::sync::Arc;
use std::time::Duration;

/// The business settings of the consumer.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// The disposition code applied to eligible interactions.
    pub(crate) disposition_code: DispositionCodeId,
    /// The minimum duration of an eligible call.
    pub(crate) duration_threshold_ms: i64,
    /// How long a dedup record is remembered.
    pub(crate) dedup_ttl: Duration,
    /// The claim's lease runs to the invocation deadline plus this margin...
    pub lease_margin: Duration,
    /// ...but never longer than this from now.
    pub(crate) max_lease: Duration,
    /// How long an event waits at most for another event's lease on its target to end.
    pub lease_wait: Duration,
    /// How many interactions of one batch (SQS) are processed at the same time.
    pub batch_concurrency: usize,
    /// Native dialect: the media types acted on (`VOICE` unless configured otherwise).
    pub native_media_types: Vec<MediaType>,
    /// Native dialect: when the default wrap-up is applied (after the agent's after-call work,
    /// or as soon as the call ends).
    pub wrapup_trigger: WrapupTrigger,
    /// Native dialect: how the wrap-up is applied, and its optional notes.
    pub wrapup_style: WrapupStyle,
    /// Native dialect: notes sent with the wrap-up.
    pub wrapup_notes: Option<String>,
    /// Native dialect: which code each call gets (`WRAPUP_POLICY`); `None`: the disposition
    /// code (with the notes) on every call.
    pub policy: Option<Arc<WrapupPolicy>>,
    /// Native dialect: how long a queue's facts (codes, after-call work) are kept per instance.
    pub queue_cache_ttl: Duration,
    /// Native dialect: how many queues' facts are kept per instance.
    pub(crate) queue_cache_capacity: usize,
    /// Native dialect: a `customer.end` may wrap the agent up (reading the conversation), for
    /// integrations that do not deliver the agents' `user.end` and `acw` events.
    pub wrapup_on_customer_end: bool,
}

impl PipelineSettings {
    /// Default dedup TTL: 25 hours, longer than EventBridge's 24 hours of delivery retries.
    pub(crate) const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(25 * 3600);
    /// Default lease margin past the invocation's deadline.
    pub(crate) const DEFAULT_LEASE_MARGIN: Duration = Duration::from_secs(10);
    /// Default number of interactions of one batch processed at once.
    pub(crate) const DEFAULT_BATCH_CONCURRENCY: usize = 8;
    /// Default cap on a lease: the longest Lambda timeout plus a minute.
    pub(crate) const DEFAULT_MAX_LEASE: Duration = Duration::from_secs(15 * 60 + 60);
    /// Default wait for another event's lease on the same target.
    pub(crate) const DEFAULT_LEASE_WAIT: Duration = Duration::from_secs(2);
    /// Default time a queue's facts are kept: 10 minutes.
    pub(crate) const DEFAULT_QUEUE_CACHE_TTL: Duration = Duration::from_secs(600);
    /// Default number of queues whose facts are kept.
    pub(crate) const DEFAULT_QUEUE_CACHE_CAPACITY: usize = 1_000;

    /// The defaults, applying `disposition_code`.
    pub fn new(disposition_code: DispositionCodeId) -> Self {
        PipelineSettings {
            disposition_code,
            duration_threshold_ms: gev_core::domain::eligibility::DEFAULT_DURATION_THRESHOLD_MS,
            dedup_ttl: Self::DEFAULT_DEDUP_TTL,
            lease_margin: Self::DEFAULT_LEASE_MARGIN,
            max_lease: Self::DEFAULT_MAX_LEASE,
            lease_wait: Self::DEFAULT_LEASE_WAIT,
            batch_concurrency: Self::DEFAULT_BATCH_CONCURRENCY,
            native_media_types: vec![MediaType::voice()],
            wrapup_trigger: WrapupTrigger::default(),
            wrapup_style: WrapupStyle::default(),
            wrapup_notes: None,
            policy: None,
            queue_cache_ttl: Self::DEFAULT_QUEUE_CACHE_TTL,
            queue_cache_capacity: Self::DEFAULT_QUEUE_CACHE_CAPACITY,
            wrapup_on_customer_end: false,
        }
    }

    /// The wrap-up policy in force: the configured one, else the disposition code on every call.
    pub fn effective_policy(&self) -> WrapupPolicy {
        match &self.policy {
            Some(policy) => WrapupPolicy::clone(policy),
            None => {
                WrapupPolicy::single_code(self.disposition_code.clone(), self.wrapup_notes.clone())
            }
        }
    }
}

/// The invocation an event is processed in.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Owns the dedup claims made for this invocation (the Lambda request id).
    pub owner: OwnerToken,
    /// When the invocation must have answered.
    pub deadline: Deadline,
}
