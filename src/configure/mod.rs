//! The configure use case: the Genesys EventBridge integration as code — find it, validate the desired state against Genesys, plan, apply without ever overwriting a change made in between.

mod apply;
pub mod audit;
pub mod check;
pub mod event_pattern;
pub mod partner_bus;
mod schema;

use gev_core::deadline::Deadline;
use gev_core::domain::IntegrationId;
use gev_core::domain::integration::{
    Action, CurrentIntegration, IntegrationSpec, Plan, SpecProblem, normalise_notes, plan,
};
use gev_genesys::GenesysError;
use gev_genesys::integrations::{
    ConfigWrite, EventBridgeProperties, Integration, IntegrationConfig, IntegrationsApi,
    IntendedState,
};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

pub use apply::{
    ApplyError, ApplyOptions, ApplyOutcome, ApplyPorts, ApplyProgress, ApplyReport, AwsConnector,
    Confirm, NotifierConnector, RecordFailure, Recorded, Unconfirmed, run_apply,
};

/// How long one configure command may take in all (apply: plus its waits).
pub const BUDGET: Duration = Duration::from_secs(120);

/// The longest wait for activation (and for the partner event source) that apply accepts; a
/// longer one is cut to it.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Why configure could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    /// A Genesys call failed.
    #[error("Genesys Cloud")]
    Genesys(#[from] GenesysError),
    /// The desired state is wrong; every problem is listed.
    #[error("the desired state has {} problem(s): {}", .0.len(), describe(.0))]
    Invalid(Vec<SpecProblem>),
    /// Several integrations have the desired name and none is pinned.
    #[error(
        "{count} integrations of type amazon-eventbridge-source are named {name:?} ({ids}); set integrationId to pick one"
    )]
    Ambiguous {
        /// The name they share.
        name: String,
        /// How many there are.
        count: usize,
        /// Their ids.
        ids: String,
    },
    /// The pinned integration does not exist.
    #[error("integration {0} does not exist")]
    Missing(IntegrationId),
    /// The integration changed after the plan was made: nothing was overwritten.
    #[error(
        "the integration changed since it was read (version {planned} planned, now {now}; changed remotely: {changed}); nothing was overwritten: plan again"
    )]
    Conflict {
        /// The version the plan was made from.
        planned: i64,
        /// The version Genesys has now (0 when unknown).
        now: i64,
        /// The fields that changed remotely since the plan read them.
        changed: String,
    },
    /// An EventBridge call failed.
    #[error("AWS")]
    Aws(#[from] crate::eventbridge::EventBridgeError),
    /// The partner event source did not appear in time.
    #[error(
        "the partner event source {0} has not appeared on AWS yet; run apply --associate-bus again later"
    )]
    SourceMissing(String),
    /// The integration did not become active in time, or reported an error.
    #[error("{}", not_active(.state, *.timed_out))]
    NotActive {
        /// Its last `reportedState.code`.
        state: String,
        /// True when the wait ran out (else it reported ERROR).
        timed_out: bool,
    },
}

fn not_active(state: &str, timed_out: bool) -> String {
    if timed_out {
        format!("the integration still reports {state}, not ACTIVE, when the wait ran out")
    } else {
        format!("the integration reports {state} after enabling it")
    }
}

fn describe(problems: &[SpecProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("{}: {}", problem.field, problem.problem))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConfigureError {
    /// True when the failed request may have been carried out all the same (no answer, or a
    /// 5xx: the write may have landed before the answer was lost).
    pub fn may_have_landed(&self) -> bool {
        matches!(
            self,
            ConfigureError::Genesys(GenesysError::Server { .. } | GenesysError::Transport { .. })
        )
    }
}

/// The integration the spec names, as Genesys has it now, with its configuration.
#[derive(Debug, Clone)]
pub struct Found {
    /// The integration.
    pub integration: Integration,
    /// Its current configuration.
    pub config: IntegrationConfig,
}

impl Found {
    /// The domain's view of it, for planning.
    pub fn current(&self) -> CurrentIntegration {
        let properties = &self.config.properties;
        CurrentIntegration {
            id: self.integration.id.as_str().to_owned(),
            name: self.config.name.clone(),
            version: self.config.version,
            aws_account_id: properties.aws_account_id.clone(),
            aws_region: properties.aws_account_region.clone(),
            event_source_suffix: properties.event_source_suffix.clone(),
            topics: properties.event_filter.clone(),
            notes: normalise_notes(self.config.notes.as_deref()),
            enabled: self.integration.intended_state == "ENABLED",
            reported_state: self.integration.reported_state.clone(),
        }
    }
}

/// Finds the integration `spec` names: its pinned id, else the one of its name (none: `None`;
/// several: an error listing them).
pub async fn find(
    api: &dyn IntegrationsApi,
    spec: &IntegrationSpec,
    deadline: Deadline,
) -> Result<Option<Found>, ConfigureError> {
    let integration = match &spec.integration_id {
        Some(id) => {
            let id = IntegrationId::parse(id).map_err(|problem| {
                ConfigureError::Invalid(vec![SpecProblem {
                    field: "integrationId".into(),
                    problem: problem.to_string(),
                }])
            })?;
            match api.integration(&id, deadline).await {
                Ok(integration) => integration,
                Err(GenesysError::NotFound { .. }) => return Err(ConfigureError::Missing(id)),
                Err(error) => return Err(error.into()),
            }
        }
        None => {
            let mut named: Vec<Integration> = api
                .list_integrations(deadline)
                .await?
                .into_iter()
                .filter(|integration| integration.name == spec.name)
                .collect();
            match named.len() {
                0 => return Ok(None),
                1 => named.remove(0),
                count => {
                    let ids = named.iter().map(|i| i.id.as_str()).collect::<Vec<_>>();
                    return Err(ConfigureError::Ambiguous {
                        name: spec.name.clone(),
                        count,
                        ids: ids.join(", "),
                    });
                }
            }
        }
    };
    let config = api.config(&integration.id, deadline).await?;
    Ok(Some(Found {
        integration,
        config,
    }))
}

/// Reads and checks the desired state `text`, locally and against Genesys, and reports every
/// problem at once, each naming its field: the local ones (unknown fields, account id, region,
/// suffix, topics' shape) and the remote ones (properties the type's schema refuses, topics
/// Genesys does not know or does not send to EventBridge), even when the local check failed.
pub async fn desired_state(
    api: &dyn IntegrationsApi,
    text: &str,
    deadline: Deadline,
) -> Result<IntegrationSpec, ConfigureError> {
    let parsed = gev_core::domain::integration::parse_spec(text);
    let local = parsed.as_ref().err().cloned().unwrap_or_default();
    let Ok(Value::Object(raw)) = serde_json::from_str::<Value>(text) else {
        return parsed.map_err(ConfigureError::Invalid);
    };
    let remote = match (&parsed, validate_remotely(api, &raw, deadline).await) {
        (_, Ok(remote)) => remote,
        (Ok(_), Err(error)) => return Err(error),
        // The input is wrong anyway: say so, and that Genesys could not be asked.
        (Err(_), Err(error)) => vec![SpecProblem {
            field: "topics".into(),
            problem: format!(
                "not checked against Genesys Cloud: {}",
                gev_core::error_chain(&error)
            ),
        }],
    };
    let top = |field: &str| {
        field
            .split(['.', '['])
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    // A field already wrong locally (e.g. `awsAccountId` not 12 digits) is not repeated by the
    // schema; each topic is checked remotely unless it is wrong locally itself.
    let named_locally = |problem: &SpecProblem| {
        local.iter().any(|local| {
            local.field == problem.field
                || (!problem.field.starts_with("topics[")
                    && top(&local.field) == top(&problem.field))
        })
    };
    let remote: Vec<SpecProblem> = remote
        .into_iter()
        .filter(|problem| !named_locally(problem))
        .collect();
    let problems: Vec<SpecProblem> = local.iter().cloned().chain(remote).collect();
    match parsed {
        Ok(spec) if problems.is_empty() => Ok(spec),
        _ => Err(ConfigureError::Invalid(problems)),
    }
}

/// The problems of the desired state `raw` (the file's JSON object, valid or not) that only
/// Genesys can tell: properties its schema for the type refuses, topics it does not know or does
/// not send to EventBridge (with the nearest known name when one is misspelt).
pub async fn validate_remotely(
    api: &dyn IntegrationsApi,
    raw: &serde_json::Map<String, Value>,
    deadline: Deadline,
) -> Result<Vec<SpecProblem>, ConfigureError> {
    let available = api.available_topics(deadline).await?;
    let topics: Vec<(usize, String)> = raw
        .get("topics")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .filter_map(|(index, topic)| Some((index, topic.as_str()?.trim().to_owned())))
                .filter(|(_, topic)| !topic.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut problems = match api.properties_schema(deadline).await? {
        Some(schema) => {
            let mut properties = serde_json::Map::new();
            for (property, field) in [
                ("awsAccountId", "awsAccountId"),
                ("awsAccountRegion", "awsRegion"),
                ("eventSourceSuffix", "eventSourceSuffix"),
            ] {
                if let Some(value) = raw.get(field).filter(|value| !value.is_null()) {
                    properties.insert(property.into(), value.clone());
                }
            }
            if let Some(value) = raw.get("topics").filter(|value| !value.is_null()) {
                let filter = match value {
                    Value::Array(_) => json!(topics.iter().map(|(_, t)| t).collect::<Vec<_>>()),
                    other => other.clone(),
                };
                properties.insert("eventFilter".into(), filter);
            }
            schema::problems(&schema, &Value::Object(properties))
        }
        None => Vec::new(),
    };
    for (index, topic) in &topics {
        let field = format!("topics[{index}]");
        match available.iter().find(|known| known.id == *topic) {
            Some(known) if known.reaches_eventbridge() => {}
            Some(known) => problems.push(SpecProblem {
                field,
                problem: format!(
                    "{topic:?} is not sent to EventBridge (transports: {})",
                    known.transports.join(", ")
                ),
            }),
            None => {
                let nearest = available
                    .iter()
                    .filter(|known| known.reaches_eventbridge())
                    .min_by_key(|known| edit_distance(&known.id, topic))
                    .map(|known| format!("; did you mean {:?}?", known.id))
                    .unwrap_or_default();
                problems.push(SpecProblem {
                    field,
                    problem: format!("{topic:?} is not a Genesys Cloud topic{nearest}"),
                });
            }
        }
    }
    Ok(problems)
}

/// Levenshtein distance, for suggesting the topic a misspelt one meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// Reads and checks the desired state in `file`, locally and against Genesys (all problems at
/// once; a file that cannot be read is one, naming it).
pub(crate) async fn desired(
    file: &Path,
    api: &dyn IntegrationsApi,
    deadline: Deadline,
) -> Result<IntegrationSpec, ConfigureError> {
    let text = std::fs::read_to_string(file).map_err(|error| {
        ConfigureError::Invalid(vec![SpecProblem {
            field: file.display().to_string(),
            problem: format!("cannot be read: {error}"),
        }])
    })?;
    desired_state(api, &text, deadline).await
}

/// The desired state of `file` (checked), the integration it names as Genesys has it, and the
/// plan between them: what `plan`, `apply` and `status` all start from.
pub async fn read_and_plan(
    file: &Path,
    api: &dyn IntegrationsApi,
    deadline: Deadline,
) -> Result<(IntegrationSpec, Option<Found>, Plan), ConfigureError> {
    let spec = desired(file, api, deadline).await?;
    let found = find(api, &spec, deadline).await?;
    let plan = plan_for(&spec, found.as_ref());
    Ok((spec, found, plan))
}

/// The plan from what Genesys has now.
pub fn plan_for(spec: &IntegrationSpec, found: Option<&Found>) -> Plan {
    plan(spec, found.map(Found::current).as_ref())
}

/// What `apply` did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The integration.
    pub integration_id: IntegrationId,
    /// The configuration version before (none when created) and after.
    pub version_before: Option<i64>,
    /// The configuration version Genesys has now.
    pub version_after: i64,
    /// `reportedState.code` at the end.
    pub reported_state: String,
}

/// How long apply waits for an enabled integration to report ACTIVE, and how often it looks.
#[derive(Debug, Clone, Copy)]
pub struct ActivationWait {
    /// The longest wait.
    pub timeout: Duration,
    /// The pause between reads.
    pub interval: Duration,
}

impl ActivationWait {
    /// The wait with its timeout cut to [`MAX_WAIT`] and its interval to the timeout (at least
    /// 1 ms), so that no sum of instants overflows and no loop spins.
    pub fn bounded(self) -> Self {
        let timeout = self.timeout.min(MAX_WAIT);
        ActivationWait {
            timeout,
            interval: self.interval.clamp(
                Duration::from_millis(1),
                timeout.max(Duration::from_millis(1)),
            ),
        }
    }
}

/// The writes Genesys accepted for a plan: the first part of `apply`, before the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The integration.
    pub integration_id: IntegrationId,
    /// True when it was created (`POST /api/v2/integrations` accepted).
    pub created: bool,
    /// The configuration version before (none when created).
    pub version_before: Option<i64>,
    /// The configuration version Genesys has after the writes (before them when none was
    /// accepted).
    pub version_after: i64,
    /// True when the configuration was written (`PUT …/config/current` accepted).
    pub config_written: bool,
    /// The intended state set (`PATCH`) when one was accepted.
    pub state_set: Option<IntendedState>,
    /// `reportedState.code` after the writes.
    pub reported_state: String,
}

impl Written {
    /// What was accepted, e.g. `created, configuration written (version 2), enabled`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.created {
            parts.push("created".to_owned());
        }
        if self.config_written {
            parts.push(match self.version_before {
                Some(before) => format!(
                    "configuration written (version {before} -> {})",
                    self.version_after
                ),
                None => format!("configuration written (version {})", self.version_after),
            });
        }
        match self.state_set {
            Some(IntendedState::Enabled) => parts.push("enabled".into()),
            Some(IntendedState::Disabled) => parts.push("disabled".into()),
            None => {}
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Writes that stopped part-way: what Genesys had accepted before (if anything), which write
/// failed, and why.
#[derive(Debug)]
pub struct WriteFailure {
    /// The writes accepted before the failure.
    pub accepted: Option<Written>,
    /// The write that failed, e.g. `writing the configuration`.
    pub step: &'static str,
    /// Why.
    pub error: ConfigureError,
}

/// Performs the writes of `plan` (made from `found`): creates the integration if needed,
/// writes the configuration against **the version read for the plan** (a conflict is never
/// retried or forced), sets the intended state. It does not wait for activation: what it
/// returns, success or part-way failure, is what to record before waiting.
pub async fn write(
    api: &dyn IntegrationsApi,
    spec: &IntegrationSpec,
    plan: &Plan,
    found: Option<&Found>,
    deadline: Deadline,
) -> Result<Written, WriteFailure> {
    let (integration, version) = match found {
        Some(found) => (found.integration.clone(), found.config.version),
        None => {
            let created = api
                .create_integration(&spec.name, deadline)
                .await
                .map_err(|error| WriteFailure {
                    accepted: None,
                    step: "creating the integration",
                    error: error.into(),
                })?;
            let written = Written {
                integration_id: created.id.clone(),
                created: true,
                version_before: None,
                version_after: 0,
                config_written: false,
                state_set: None,
                reported_state: created.reported_state.clone(),
            };
            match api.config(&created.id, deadline).await {
                Ok(config) => (created, config.version),
                Err(error) => {
                    return Err(WriteFailure {
                        accepted: Some(written),
                        step: "reading the new integration's configuration",
                        error: error.into(),
                    });
                }
            }
        }
    };
    let mut written = Written {
        integration_id: integration.id.clone(),
        created: found.is_none(),
        version_before: found.map(|found| found.config.version),
        version_after: version,
        config_written: false,
        state_set: None,
        reported_state: integration.reported_state.clone(),
    };
    let accepted =
        |written: &Written| (written.created || written.config_written).then(|| written.clone());
    let config_changed = plan.action == Action::Create
        || plan.changes.iter().any(|change| change.field != "enabled");
    if config_changed {
        let step = "writing the configuration";
        let config = desired_config(spec, version);
        match api.put_config(&integration.id, &config, deadline).await {
            Ok(ConfigWrite::Saved(saved)) => {
                written.version_after = saved.version;
                written.config_written = true;
            }
            Ok(ConfigWrite::Conflict) => {
                let remote = api.config(&integration.id, deadline).await.ok();
                let changed = match (found, &remote) {
                    (Some(found), Some(remote)) => remote_changes(&found.config, remote),
                    _ => "unknown".into(),
                };
                return Err(WriteFailure {
                    accepted: accepted(&written),
                    step,
                    error: ConfigureError::Conflict {
                        planned: version,
                        now: remote.map_or(0, |config| config.version),
                        changed,
                    },
                });
            }
            Err(error) => {
                return Err(WriteFailure {
                    accepted: accepted(&written),
                    step,
                    error: error.into(),
                });
            }
        }
    }
    let wanted = if spec.enabled {
        IntendedState::Enabled
    } else {
        IntendedState::Disabled
    };
    if (integration.intended_state == "ENABLED") != spec.enabled {
        match api
            .set_intended_state(&integration.id, wanted, deadline)
            .await
        {
            Ok(now) => {
                written.state_set = Some(wanted);
                written.reported_state = now.reported_state;
            }
            Err(error) => {
                return Err(WriteFailure {
                    accepted: accepted(&written),
                    step: if spec.enabled {
                        "enabling it (intendedState ENABLED)"
                    } else {
                        "disabling it (intendedState DISABLED)"
                    },
                    error: error.into(),
                });
            }
        }
    }
    Ok(written)
}

/// [`write`], then, when the spec wants it enabled, [`wait_until_active`]: the whole apply for
/// callers that record nothing in between.
pub async fn apply(
    api: &dyn IntegrationsApi,
    spec: &IntegrationSpec,
    plan: &Plan,
    found: Option<&Found>,
    wait: ActivationWait,
    deadline: Deadline,
) -> Result<Applied, ConfigureError> {
    let written = write(api, spec, plan, found, deadline)
        .await
        .map_err(|failure| failure.error)?;
    let reported_state = if spec.enabled {
        wait_until_active(api, &written.integration_id, wait, deadline).await?
    } else {
        written.reported_state
    };
    Ok(Applied {
        integration_id: written.integration_id,
        version_before: written.version_before,
        version_after: written.version_after,
        reported_state,
    })
}

/// The fields of `read` that `remote` changed, e.g. `notes, eventFilter`.
fn remote_changes(read: &IntegrationConfig, remote: &IntegrationConfig) -> String {
    let (before, after) = (&read.properties, &remote.properties);
    let notes = |config: &IntegrationConfig| normalise_notes(config.notes.as_deref());
    let changed: Vec<&str> = [
        ("name", read.name != remote.name),
        (
            "awsAccountId",
            before.aws_account_id != after.aws_account_id,
        ),
        (
            "awsAccountRegion",
            before.aws_account_region != after.aws_account_region,
        ),
        (
            "eventSourceSuffix",
            before.event_source_suffix != after.event_source_suffix,
        ),
        ("eventFilter", before.event_filter != after.event_filter),
        ("notes", notes(read) != notes(remote)),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(field, _)| field)
    .collect();
    if changed.is_empty() {
        "nothing but the version".into()
    } else {
        changed.join(", ")
    }
}

/// The configuration body: exactly name, version, properties, advanced, notes, credentials.
fn desired_config(spec: &IntegrationSpec, version: i64) -> IntegrationConfig {
    IntegrationConfig {
        name: spec.name.clone(),
        version,
        properties: EventBridgeProperties {
            aws_account_id: spec.aws_account_id.clone(),
            aws_account_region: spec.aws_region.clone(),
            event_source_suffix: spec.event_source_suffix.clone(),
            event_filter: spec.topics.clone(),
        },
        notes: Some(spec.notes.clone()),
        advanced: json!({}),
        credentials: json!({}),
    }
}

/// Reads the integration until it reports ACTIVE (or ERROR, or the wait, cut to
/// [`MAX_WAIT`] and to `deadline`, runs out).
pub async fn wait_until_active(
    api: &dyn IntegrationsApi,
    id: &IntegrationId,
    wait: ActivationWait,
    deadline: Deadline,
) -> Result<String, ConfigureError> {
    let wait = wait.bounded();
    let start = tokio::time::Instant::now();
    loop {
        let state = api.integration(id, deadline).await?.reported_state;
        let waited = start.elapsed();
        match state.as_str() {
            "ACTIVE" => return Ok(state),
            "ERROR" => {
                return Err(ConfigureError::NotActive {
                    state,
                    timed_out: false,
                });
            }
            _ if waited.saturating_add(wait.interval) > wait.timeout
                || deadline.remaining() <= wait.interval =>
            {
                return Err(ConfigureError::NotActive {
                    state,
                    timed_out: true,
                });
            }
            _ => {
                tracing::info!(%state, "waiting for the integration to become ACTIVE");
                tokio::time::sleep(wait.interval).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_topic_is_the_one_fewest_edits_away() {
        assert_eq!(edit_distance("user.edn", "user.end"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn an_absurd_wait_is_cut_to_the_longest_one_accepted() {
        let wait = ActivationWait {
            timeout: Duration::MAX,
            interval: Duration::ZERO,
        }
        .bounded();

        assert_eq!(wait.timeout, MAX_WAIT);
        assert_eq!(wait.interval, Duration::from_millis(1));
    }
}
