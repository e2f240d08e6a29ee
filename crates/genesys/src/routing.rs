//! The Routing port: the organization's queues (bridge `--follow-queue all`), each queue's after-call-work settings and assigned wrap-up codes (consumer, doctor), and the org's codes.

use super::GenesysError;
use async_trait::async_trait;
use gev_core::deadline::Deadline;
use gev_core::domain::{DivisionId, QueueId};
use std::collections::BTreeSet;

/// A queue; only what the bridge reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// Its id.
    pub id: String,
    /// Its name.
    pub(crate) name: String,
}

/// A queue's `acwSettings.wrapupPrompt`: whether its agents go through after-call work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrapupPrompt {
    /// `MANDATORY`: the agent must choose a code.
    Mandatory,
    /// `MANDATORY_TIMEOUT`: a code is required, within the queue's time-out.
    MandatoryTimeout,
    /// `MANDATORY_FORCED_TIMEOUT`: as above, the agent cannot end it early.
    MandatoryForcedTimeout,
    /// `OPTIONAL`: after-call work, a code is optional.
    Optional,
    /// `AGENT_REQUESTED`: after-call work only when the agent asks for it.
    AgentRequested,
    /// A value this version does not know.
    Other(String),
}

impl WrapupPrompt {
    /// The prompt named by Genesys' enum value.
    pub(crate) fn parse(value: &str) -> Self {
        match value {
            "MANDATORY" => WrapupPrompt::Mandatory,
            "MANDATORY_TIMEOUT" => WrapupPrompt::MandatoryTimeout,
            "MANDATORY_FORCED_TIMEOUT" => WrapupPrompt::MandatoryForcedTimeout,
            "OPTIONAL" => WrapupPrompt::Optional,
            "AGENT_REQUESTED" => WrapupPrompt::AgentRequested,
            other => WrapupPrompt::Other(other.to_owned()),
        }
    }

    /// True when every agent leg of the queue goes through after-call work, so its `acw`
    /// event will come and decide: the `user.end` cannot lead to a write.
    pub fn after_call_work_follows(&self) -> bool {
        matches!(
            self,
            WrapupPrompt::Mandatory
                | WrapupPrompt::MandatoryTimeout
                | WrapupPrompt::MandatoryForcedTimeout
                | WrapupPrompt::Optional
        )
    }
}

/// What the consumer needs to know of a queue: its division, its after-call work, its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFacts {
    /// The queue.
    pub id: QueueId,
    /// Its name, for messages.
    pub name: String,
    /// `division.id`.
    pub division_id: Option<DivisionId>,
    /// `acwSettings.wrapupPrompt`, when the queue has one.
    pub wrapup_prompt: Option<WrapupPrompt>,
    /// The ids of the wrap-up codes assigned to it (every page).
    pub codes: BTreeSet<String>,
}

impl QueueFacts {
    /// True when `code` is assigned to the queue.
    pub fn has_code(&self, code: &str) -> bool {
        self.codes.contains(code)
    }
}

/// One of the org's wrap-up codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapupCodeInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub(crate) name: String,
}

/// The Routing API.
#[async_trait]
pub trait RoutingApi: Send + Sync {
    /// Every queue of the organization (all pages of `GET /api/v2/routing/queues`).
    async fn queues(&self, deadline: Deadline) -> Result<Vec<Queue>, GenesysError>;

    /// A queue's facts: `GET /api/v2/routing/queues/{id}` and every page of its
    /// `/wrapupcodes`.
    async fn queue_facts(
        &self,
        id: &QueueId,
        deadline: Deadline,
    ) -> Result<QueueFacts, GenesysError>;

    /// Every wrap-up code of the organization (all pages of `GET /api/v2/routing/wrapupcodes`).
    async fn wrapup_codes(&self, deadline: Deadline) -> Result<Vec<WrapupCodeInfo>, GenesysError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_call_work_follows_on_every_prompt_but_the_agent_requested_one() {
        let follows: Vec<bool> = [
            "MANDATORY",
            "MANDATORY_TIMEOUT",
            "MANDATORY_FORCED_TIMEOUT",
            "OPTIONAL",
            "AGENT_REQUESTED",
            "SOMETHING_NEW",
        ]
        .into_iter()
        .map(|value| WrapupPrompt::parse(value).after_call_work_follows())
        .collect();

        assert_eq!(follows, [true, true, true, true, false, false]);
    }
}
