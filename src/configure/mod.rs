//! The configure use case: the Genesys EventBridge integration as code — find it, validate the desired state against Genesys, plan, apply without ever overwriting a change made in between.

pub mod audit;
pub mod check;
pub mod event_pattern;
pub mod partner_bus;
pub mod schema;

use crate::deadline::Deadline;
use crate::domain::IntegrationId;
use crate::domain::integration::{
    Action, CurrentIntegration, IntegrationSpec, Plan, SpecProblem, normalise_notes, plan,
};
use crate::genesys::GenesysError;
use crate::genesys::integrations::{
    ConfigWrite, EventBridgeProperties, Integration, IntegrationConfig, IntegrationsApi,
    IntendedState,
};
use serde_json::json;
use std::time::Duration;

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
    #[error("the integration reports {state} after enabling it")]
    NotActive {
        /// Its `reportedState.code`.
        state: String,
    },
}

fn describe(problems: &[SpecProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("{}: {}", problem.field, problem.problem))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConfigureError {
    /// The CLI's exit status: 2 bad input, 3 a conflict to look at, 1 a remote failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigureError::Invalid(_) | ConfigureError::Ambiguous { .. } => 2,
            ConfigureError::Conflict { .. } | ConfigureError::NotActive { .. } => 3,
            ConfigureError::Missing(_)
            | ConfigureError::Genesys(_)
            | ConfigureError::Aws(_)
            | ConfigureError::SourceMissing(_) => 1,
        }
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

/// The spec's problems that only Genesys can tell: properties its schema for the type refuses,
/// topics it does not know or does not send to EventBridge (with the nearest known name when
/// one is misspelt).
pub async fn validate_remotely(
    api: &dyn IntegrationsApi,
    spec: &IntegrationSpec,
    deadline: Deadline,
) -> Result<Vec<SpecProblem>, ConfigureError> {
    let available = api.available_topics(deadline).await?;
    let mut problems = match api.properties_schema(deadline).await? {
        Some(schema) => {
            let properties =
                serde_json::to_value(desired_config(spec, 0).properties).unwrap_or_default();
            schema::problems(&schema, &properties)
        }
        None => Vec::new(),
    };
    for (index, topic) in spec.topics.iter().enumerate() {
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

/// Performs `plan` (made from `found`): creates the integration if needed, writes the
/// configuration against **the version read for the plan** (a conflict is never retried or
/// forced), sets the intended state, and waits for it to report ACTIVE when enabled.
pub async fn apply(
    api: &dyn IntegrationsApi,
    spec: &IntegrationSpec,
    plan: &Plan,
    found: Option<&Found>,
    wait: ActivationWait,
    deadline: Deadline,
) -> Result<Applied, ConfigureError> {
    let (integration, version) = match found {
        Some(found) => (found.integration.clone(), found.config.version),
        None => {
            let created = api.create_integration(&spec.name, deadline).await?;
            let version = api.config(&created.id, deadline).await?.version;
            (created, version)
        }
    };
    let mut version_after = version;
    let config_changed = plan.action == Action::Create
        || plan.changes.iter().any(|change| change.field != "enabled");
    if config_changed {
        let config = desired_config(spec, version);
        match api.put_config(&integration.id, &config, deadline).await? {
            ConfigWrite::Saved(saved) => version_after = saved.version,
            ConfigWrite::Conflict => {
                let remote = api.config(&integration.id, deadline).await.ok();
                let changed = match (found, &remote) {
                    (Some(found), Some(remote)) => remote_changes(&found.config, remote),
                    _ => "unknown".into(),
                };
                return Err(ConfigureError::Conflict {
                    planned: version,
                    now: remote.map_or(0, |config| config.version),
                    changed,
                });
            }
        }
    }
    let wanted = if spec.enabled {
        IntendedState::Enabled
    } else {
        IntendedState::Disabled
    };
    let enabled_now = integration.intended_state == "ENABLED";
    let mut reported = integration.reported_state.clone();
    if enabled_now != spec.enabled {
        reported = api
            .set_intended_state(&integration.id, wanted, deadline)
            .await?
            .reported_state;
    }
    if spec.enabled {
        reported = wait_until_active(api, &integration.id, wait, deadline).await?;
    }
    Ok(Applied {
        integration_id: integration.id,
        version_before: found.map(|found| found.config.version),
        version_after,
        reported_state: reported,
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

/// Reads the integration until it reports ACTIVE (or ERROR, or the wait runs out).
async fn wait_until_active(
    api: &dyn IntegrationsApi,
    id: &IntegrationId,
    wait: ActivationWait,
    deadline: Deadline,
) -> Result<String, ConfigureError> {
    let give_up = tokio::time::Instant::now() + wait.timeout;
    loop {
        let state = api.integration(id, deadline).await?.reported_state;
        match state.as_str() {
            "ACTIVE" => return Ok(state),
            "ERROR" => return Err(ConfigureError::NotActive { state }),
            _ if tokio::time::Instant::now() + wait.interval > give_up => {
                return Err(ConfigureError::NotActive { state });
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
    fn a_conflict_is_exit_status_3_and_bad_input_2() {
        let conflict = ConfigureError::Conflict {
            planned: 3,
            now: 4,
            changed: "notes".into(),
        };
        let invalid = ConfigureError::Invalid(vec![]);
        assert_eq!(conflict.exit_code(), 3);
        assert_eq!(invalid.exit_code(), 2);
    }
}
