//! A run's ports from the environment, for the CLI and the scheduled Lambda: the Genesys client, the dedup store `DEDUP_TABLE_NAME` names, the bus, and the queues the consumer's policy writes on.

use super::DedupRecords;
use crate::publish::BusSink;
use gev_consumer::app;
use gev_consumer::config::{Config, ConfigError, GenesysAccess};
use gev_consumer::dedup::DynamoDbDedupStore;
use gev_core::domain::{WrapupPolicy, WrittenQueues};
use gev_genesys::http::HttpGenesysClient;
use std::sync::Arc;

/// Why a run cannot be wired: a setting to fix (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// A Genesys or consumer setting is missing or malformed.
    #[error(transparent)]
    Settings(#[from] ConfigError),
    /// The Genesys client could not be built (credentials unreadable, …).
    #[error(transparent)]
    Genesys(#[from] app::WiringError),
    /// The policy writes no code on any queue: there is nothing to reconcile.
    #[error(
        "the wrap-up policy writes no code on any queue (it only skips or shadows): nothing to reconcile"
    )]
    PolicyWritesNowhere,
}

/// The ports of one run.
pub struct Ports {
    /// The Genesys analytics API.
    pub analytics: HttpGenesysClient,
    /// The consumer's dedup records, when `DEDUP_TABLE_NAME` is set.
    pub records: Option<DedupRecords>,
    /// The bus the events go onto.
    pub sink: BusSink,
}

impl Ports {
    /// The Genesys client (settings shared by every tool), the DynamoDB dedup table named by
    /// `DEDUP_TABLE_NAME` (none: calls are not checked against it), and `bus`.
    pub async fn from_env(bus: &str) -> Result<Self, WiringError> {
        let access = GenesysAccess::from_env()?;
        let analytics = app::genesys_client(&access).await?;
        let records = match std::env::var("DEDUP_TABLE_NAME") {
            Ok(table) if !table.trim().is_empty() => Some(DedupRecords(Arc::new(
                DynamoDbDedupStore::new(app::dynamodb_client().await, table.trim()),
            ))),
            _ => None,
        };
        let client = crate::eventbridge::sdk::client_for_bus(bus).await;
        Ok(Ports {
            analytics,
            records,
            sink: BusSink::new(client, bus),
        })
    }
}

/// The queues to look at: those given, or else those the consumer's policy (its environment:
/// `WRAPUP_POLICY`, or `DISPOSITION_CODE_ID` alone for every queue) writes on; empty: every queue.
pub fn queues(given: &[String]) -> Result<Vec<String>, WiringError> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    // Only the policy is wanted: the consumer's lease-against-timeout check is not reconcile's.
    let timeouts = ["FUNCTION_TIMEOUT_SECONDS", "AWS_LAMBDA_FUNCTION_TIMEOUT"];
    let config = Config::from_lookup(|name| {
        (!timeouts.contains(&name))
            .then(|| std::env::var(name).ok())
            .flatten()
    })?;
    queues_of(&config.pipeline.effective_policy())
}

/// The queues `policy` writes on; empty: every queue.
pub fn queues_of(policy: &WrapupPolicy) -> Result<Vec<String>, WiringError> {
    match policy.written_queues() {
        WrittenQueues::Every => Ok(Vec::new()),
        WrittenQueues::These(queues) => Ok(queues.iter().map(|q| q.as_str().to_owned()).collect()),
        WrittenQueues::Nowhere => Err(WiringError::PolicyWritesNowhere),
    }
}

/// The scheduled Lambda's settings, from its environment (`lookup`): `RECONCILE_WINDOW` (2h),
/// `RECONCILE_SETTLE` (10m), `RECONCILE_LONGEST_CALL` (4h), `RECONCILE_MAX_PUBLISHED` (500),
/// `RECONCILE_MAX_PAGES` (20), `RECONCILE_SOURCE` (the bridge's source), `RECONCILE_QUEUES`
/// (comma-separated; default: the policy's); `queues` gives the policy's when none are set.
pub fn scheduled_settings(
    lookup: impl Fn(&str) -> Option<String>,
    policy_queues: impl FnOnce() -> Result<Vec<String>, WiringError>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<super::ReconcileSettings, WiringError> {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let invalid = |name: &'static str, problem: String| ConfigError::Invalid { name, problem };
    let duration = |name: &'static str, default: chrono::TimeDelta| match get(name) {
        Some(text) => {
            super::parse_duration(&text).map_err(|problem| invalid(name, problem.to_string()))
        }
        None => Ok(default),
    };
    let count = |name: &'static str, default: usize| match get(name) {
        Some(text) => (text.parse::<usize>().ok().filter(|n| *n > 0))
            .ok_or_else(|| invalid(name, format!("{text:?} is not a whole number above 0"))),
        None => Ok(default),
    };
    let source = get("RECONCILE_SOURCE").unwrap_or_else(|| crate::publish::DEFAULT_SOURCE.into());
    crate::publish::check_source(&source)
        .map_err(|problem| invalid("RECONCILE_SOURCE", problem.to_string()))?;
    let (from, to) = super::ReconcileSettings::window(
        duration("RECONCILE_WINDOW", super::DEFAULT_WINDOW)?,
        duration("RECONCILE_SETTLE", super::DEFAULT_SETTLE)?,
        now,
    );
    let queues = match get("RECONCILE_QUEUES") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned)
            .collect(),
        None => policy_queues()?,
    };
    Ok(super::ReconcileSettings {
        from,
        to,
        queues,
        longest_call: duration("RECONCILE_LONGEST_CALL", super::DEFAULT_LONGEST_CALL)?,
        max_pages: u32::try_from(count(
            "RECONCILE_MAX_PAGES",
            super::DEFAULT_MAX_PAGES as usize,
        )?)
        .unwrap_or(u32::MAX),
        max_published: count("RECONCILE_MAX_PUBLISHED", super::DEFAULT_MAX_PUBLISHED)?,
        source,
        dry_run: false,
        request_timeout: std::time::Duration::from_secs(20),
        send_policy: crate::publish::SendPolicy::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, Utc};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = (pairs.iter())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_scheduled_run_looks_at_the_last_two_hours_less_ten_minutes_by_default() {
        let settings = scheduled_settings(lookup(&[]), || Ok(vec!["q-1".into()]), now()).unwrap();

        assert_eq!(settings.from, now() - TimeDelta::hours(2));
        assert_eq!(settings.to, now() - TimeDelta::minutes(10));
        assert_eq!(settings.queues, ["q-1"]);
        assert_eq!(settings.source, crate::publish::DEFAULT_SOURCE);
    }

    #[test]
    fn the_scheduled_runs_settings_come_from_its_environment() {
        let env = lookup(&[
            ("RECONCILE_WINDOW", "90m"),
            ("RECONCILE_SETTLE", "0m"),
            ("RECONCILE_QUEUES", "q-a, q-b"),
            ("RECONCILE_MAX_PUBLISHED", "7"),
            ("RECONCILE_SOURCE", "my.bridge"),
        ]);

        let settings = scheduled_settings(env, || panic!("the policy is not read"), now()).unwrap();

        assert_eq!(
            (settings.from, settings.to),
            (now() - TimeDelta::minutes(90), now())
        );
        assert_eq!(settings.queues, ["q-a", "q-b"]);
        assert_eq!(
            (settings.max_published, settings.source.as_str()),
            (7, "my.bridge")
        );
    }

    #[test]
    fn a_malformed_setting_is_named() {
        let window = scheduled_settings(
            lookup(&[("RECONCILE_WINDOW", "2 hours")]),
            || Ok(vec![]),
            now(),
        );
        let cap = scheduled_settings(
            lookup(&[("RECONCILE_MAX_PUBLISHED", "0")]),
            || Ok(vec![]),
            now(),
        );
        let source = scheduled_settings(
            lookup(&[("RECONCILE_SOURCE", "aws.events")]),
            || Ok(vec![]),
            now(),
        );

        for (result, name) in [
            (window, "RECONCILE_WINDOW"),
            (cap, "RECONCILE_MAX_PUBLISHED"),
            (source, "RECONCILE_SOURCE"),
        ] {
            let error = result.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.starts_with(name), "{error}");
        }
    }

    #[test]
    fn a_policy_that_only_skips_or_shadows_leaves_nothing_to_reconcile() {
        let shadow =
            WrapupPolicy::parse(r#"{"default": {"action": "shadow", "code": "c"}}"#).unwrap();

        assert!(matches!(
            queues_of(&shadow),
            Err(WiringError::PolicyWritesNowhere)
        ));
    }
}
