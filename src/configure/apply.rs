//! The apply use case: the desired state read and planned, the audit log opened before any write, the changes confirmed (through [`Confirm`]) and performed against the version read, each write Genesys accepts recorded in the audit log (and on SNS) before the wait for activation, the partner event bus associated; it returns an [`ApplyReport`] or an [`ApplyError`] and says what happens through [`ApplyProgress`]; it prints nothing.

use super::audit::{AuditEntry, AuditError, AuditLog};
use super::{
    ActivationWait, BUDGET, ConfigureError, Found, WriteFailure, Written, partner_bus,
    read_and_plan, wait_until_active, write,
};
use crate::eventbridge::{EventSources, partner_source_name};
use crate::notify::{ChangeNotifier, NotifyError};
use futures_util::future::BoxFuture;
use gev_core::deadline::Deadline;
use gev_core::domain::IntegrationId;
use gev_core::domain::integration::{Action, IntegrationSpec, Plan};
use gev_genesys::integrations::IntegrationsApi;
use serde_json::Value;
use std::path::Path;

/// Makes the EventBridge client of a region (the desired state says which region).
pub type AwsConnector =
    Box<dyn Fn(&str) -> BoxFuture<'static, Box<dyn EventSources>> + Send + Sync>;

/// Makes the notifier of a topic ARN.
pub type NotifierConnector =
    Box<dyn Fn(&str) -> BoxFuture<'static, Box<dyn ChangeNotifier>> + Send + Sync>;

/// How apply runs.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions<'a> {
    /// Where each change is recorded.
    pub audit_log: &'a Path,
    /// How long to wait for an enabled integration to report ACTIVE (and, with
    /// `associate_bus`, for the partner event source to appear).
    pub activation: ActivationWait,
    /// Also create the partner event bus on AWS once the source appears.
    pub associate_bus: bool,
    /// Also publish each record to this SNS topic.
    pub notify_topic_arn: Option<&'a str>,
    /// Who acts, for the audit log (an OAuth client id, never a secret).
    pub who: &'a str,
}

/// What apply reaches: Genesys, and the makers of the clients it needs only sometimes (the
/// notifier when a change is recorded, EventBridge with `associate_bus`).
pub struct ApplyPorts<'a> {
    /// Genesys's Integrations API.
    pub api: &'a dyn IntegrationsApi,
    /// Makes the EventBridge client of the desired state's region.
    pub aws: &'a AwsConnector,
    /// Makes the notifier of `notify_topic_arn`.
    pub notifier: &'a NotifierConnector,
}

/// Why the changes shown were not confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unconfirmed {
    /// No one can be asked (and the caller did not confirm beforehand).
    NoOneToAsk,
    /// The answer was no.
    Declined,
}

/// The confirmation port: asked once, after the plan is shown and the audit log opened, before
/// anything is written, and only when the plan has changes.
pub trait Confirm {
    /// `Ok` when the changes may be made.
    fn confirm(&mut self) -> Result<(), Unconfirmed>;
}

/// A record appended to the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    /// The log.
    pub log: &'a Path,
    /// The record's outcome, e.g. `applied`.
    pub outcome: &'a str,
    /// The log's head after it.
    pub head: &'a str,
}

/// A record that could not be written or published.
#[derive(Debug)]
pub enum RecordFailure {
    /// Not appended to the audit log: what Genesys accepted is not recorded.
    NotWritten {
        /// Why.
        error: AuditError,
        /// The integration (empty when none was created).
        integration_id: String,
        /// The outcome that is not recorded.
        outcome: String,
    },
    /// Appended, but not published to the SNS topic.
    NotPublished(NotifyError),
}

/// What apply says while it runs; it prints nothing itself.
pub trait ApplyProgress {
    /// The plan, before anything else happens (with or without changes).
    fn plan_ready(&mut self, spec: &IntegrationSpec, plan: &Plan);
    /// What Genesys accepted: every write (`partial` false), or those before one that failed.
    fn written(&mut self, written: &Written, partial: bool);
    /// A record appended to the audit log (and, if there is a topic, then published).
    fn recorded(&mut self, recorded: &Recorded<'_>);
    /// A record that could not be written or published.
    fn record_failed(&mut self, failure: &RecordFailure);
    /// The integration's state once applied: ACTIVE after the wait, or as written when it is
    /// not enabled.
    fn reported_state(&mut self, integration_id: &IntegrationId, state: &str);
    /// The partner event bus that receives the integration's events (`associate_bus`).
    fn bus_associated(&mut self, bus: &str);
}

/// What apply did to the integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The plan had no changes: nothing was written or recorded.
    NoChanges,
    /// Every write was accepted (and, when enabled, the integration reports ACTIVE).
    Applied {
        /// What Genesys accepted.
        written: Written,
        /// `reportedState.code` at the end.
        reported_state: String,
    },
}

/// How an apply that did what it was asked ended.
#[derive(Debug)]
pub struct ApplyReport {
    /// What was done to the integration.
    pub outcome: ApplyOutcome,
    /// Records appended to the audit log.
    pub records: usize,
    /// Records that could not be written or published, each reported when it happened; when
    /// there is one, the partner event bus is not associated.
    pub record_failures: Vec<RecordFailure>,
    /// The partner event bus, with `associate_bus` (and every record made).
    pub bus: Option<String>,
}

/// Why apply stopped. A write that failed after others were accepted is recorded (and
/// reported) before this is returned.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Reading, planning, a write, or the partner event bus failed.
    #[error(transparent)]
    Configure(Box<ConfigureError>),
    /// The integration was written (and recorded) but did not become ACTIVE, or its state could
    /// not be read.
    #[error(transparent)]
    NotActivated(Box<ConfigureError>),
    /// The audit log cannot take the record of a change, so nothing was written.
    #[error("the audit log cannot take the record of a change; nothing was written")]
    AuditLogUnusable(#[source] AuditError),
    /// The changes were not confirmed; nothing was written.
    #[error("not confirmed")]
    NotConfirmed(Unconfirmed),
}

impl From<ConfigureError> for ApplyError {
    fn from(error: ConfigureError) -> Self {
        ApplyError::Configure(Box::new(error))
    }
}

/// Applies the desired state of `file`: the plan (reported), then, when it has changes, the
/// audit log opened, the changes confirmed and written against the version read, each write
/// Genesys accepts recorded before the wait for activation; then, with `associate_bus`, the
/// partner event bus.
pub async fn run_apply<T: ApplyProgress + Confirm>(
    file: &Path,
    options: ApplyOptions<'_>,
    ports: ApplyPorts<'_>,
    terminal: &mut T,
) -> Result<ApplyReport, ApplyError> {
    let api = ports.api;
    let wait = options.activation.bounded();
    // The waits for activation and for the partner event source come on top of the requests.
    let deadline = Deadline::after(BUDGET.saturating_add(wait.timeout.saturating_mul(2)));
    let (spec, found, plan) = read_and_plan(file, api, deadline).await?;
    terminal.plan_ready(&spec, &plan);
    let mut report = ApplyReport {
        outcome: ApplyOutcome::NoChanges,
        records: 0,
        record_failures: Vec::new(),
        bus: None,
    };
    if plan.has_changes() {
        // Before anything is written to Genesys: the change must be recordable.
        let mut log = AuditLog::open(options.audit_log).map_err(ApplyError::AuditLogUnusable)?;
        terminal.confirm().map_err(ApplyError::NotConfirmed)?;
        let notifier = match options.notify_topic_arn {
            Some(topic_arn) => Some((ports.notifier)(topic_arn).await),
            None => None,
        };
        let mut recorder = Recorder {
            log: &mut log,
            notifier,
            who: options.who,
            changes: serde_json::to_value(&plan.changes).unwrap_or(Value::Null),
            records: 0,
            failures: Vec::new(),
        };
        let planned = Planned {
            spec: &spec,
            plan: &plan,
            found: found.as_ref(),
        };
        let applied = apply_plan(
            planned,
            options.activation,
            deadline,
            api,
            &mut recorder,
            terminal,
        )
        .await;
        report.records = recorder.records;
        report.record_failures = recorder.failures;
        report.outcome = applied?;
        if !report.record_failures.is_empty() {
            return Ok(report);
        }
    }
    if options.associate_bus {
        let org = api
            .organization_id(deadline)
            .await
            .map_err(ConfigureError::from)?;
        let name = partner_source_name(&org, &spec.event_source_suffix);
        let sources = (ports.aws)(&spec.aws_region).await;
        let bus =
            partner_bus::associate(sources.as_ref(), &name, wait.timeout, wait.interval).await?;
        terminal.bus_associated(&bus);
        report.bus = Some(bus);
    }
    Ok(report)
}

/// Records in the audit log (and on SNS) what Genesys accepted.
struct Recorder<'a> {
    log: &'a mut AuditLog,
    notifier: Option<Box<dyn ChangeNotifier>>,
    who: &'a str,
    changes: Value,
    /// Records appended.
    records: usize,
    /// Records not written or not published (exit 1).
    failures: Vec<RecordFailure>,
}

/// One record: what happened to one integration.
struct Record<'a> {
    integration_id: &'a str,
    action: &'a str,
    version_before: Option<i64>,
    version_after: i64,
    outcome: &'a str,
}

impl Recorder<'_> {
    /// Appends the record to the log, then publishes it with the log's new head; a failure is
    /// reported and kept.
    async fn record(&mut self, record: Record<'_>, progress: &mut dyn ApplyProgress) {
        let entry = AuditEntry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            who: self.who,
            integration_id: record.integration_id,
            action: record.action,
            version_before: record.version_before,
            version_after: record.version_after,
            changes: self.changes.clone(),
            outcome: record.outcome,
        };
        let appended = match self.log.append(&entry) {
            Ok(appended) => appended,
            Err(error) => {
                self.failed(
                    RecordFailure::NotWritten {
                        error,
                        integration_id: record.integration_id.to_owned(),
                        outcome: record.outcome.to_owned(),
                    },
                    progress,
                );
                return;
            }
        };
        self.records += 1;
        progress.recorded(&Recorded {
            log: self.log.path(),
            outcome: record.outcome,
            head: &appended.head,
        });
        if let Some(notifier) = &self.notifier
            && let Err(error) = notifier.notify(&appended.anchored_record()).await
        {
            self.failed(RecordFailure::NotPublished(error), progress);
        }
    }

    fn failed(&mut self, failure: RecordFailure, progress: &mut dyn ApplyProgress) {
        progress.record_failed(&failure);
        self.failures.push(failure);
    }
}

/// A plan, the desired state it leads to, and the integration it was made from.
#[derive(Clone, Copy)]
struct Planned<'a> {
    spec: &'a IntegrationSpec,
    plan: &'a Plan,
    found: Option<&'a Found>,
}

/// Performs a plan with changes: each write Genesys accepts is recorded (a partial one with how
/// it ended) before the wait for activation and before anything that may fail after it.
async fn apply_plan(
    planned: Planned<'_>,
    activation: ActivationWait,
    deadline: Deadline,
    api: &dyn IntegrationsApi,
    recorder: &mut Recorder<'_>,
    progress: &mut dyn ApplyProgress,
) -> Result<ApplyOutcome, ApplyError> {
    let Planned { spec, plan, found } = planned;
    let action = if plan.action == Action::Create {
        "create"
    } else {
        "update"
    };
    let (written, failure) = match write(api, spec, plan, found, deadline).await {
        Ok(written) => (written, None),
        Err(WriteFailure {
            accepted: Some(written),
            step,
            error,
        }) => (written, Some((step, error))),
        Err(WriteFailure {
            accepted: None,
            step,
            error,
        }) => {
            if error.may_have_landed() {
                // No answer: the write may be in place. Recorded as such, for plan to settle.
                let outcome = format!(
                    "unknown: {step} got no answer ({}); it may have been applied: run plan",
                    gev_core::error_chain(&error)
                );
                let integration_id = found.map_or("", |found| found.integration.id.as_str());
                let version = found.map(|found| found.config.version);
                let record = Record {
                    integration_id,
                    action,
                    version_before: version,
                    version_after: version.unwrap_or(0),
                    outcome: &outcome,
                };
                recorder.record(record, progress).await;
            }
            return Err(error.into());
        }
    };
    let outcome = match &failure {
        None => "applied".to_owned(),
        Some((step, error)) => format!(
            "partial: {} accepted; {step} failed: {}{}",
            written.describe(),
            gev_core::error_chain(error),
            if error.may_have_landed() {
                " (it may have been applied all the same: run plan)"
            } else {
                ""
            }
        ),
    };
    progress.written(&written, failure.is_some());
    let record = Record {
        integration_id: written.integration_id.as_str(),
        action,
        version_before: written.version_before,
        version_after: written.version_after,
        outcome: &outcome,
    };
    recorder.record(record, progress).await;
    if let Some((_, error)) = failure {
        return Err(error.into());
    }
    let reported_state = if spec.enabled {
        wait_for_activation(&written, activation, deadline, api, recorder, progress)
            .await
            .map_err(|error| ApplyError::NotActivated(Box::new(error)))?
    } else {
        written.reported_state.clone()
    };
    progress.reported_state(&written.integration_id, &reported_state);
    Ok(ApplyOutcome::Applied {
        written,
        reported_state,
    })
}

/// Waits for the integration to report ACTIVE; when it does not (ERROR, the wait ran out, or its
/// state cannot be read), records that after the change's own record, and returns why.
async fn wait_for_activation(
    written: &Written,
    wait: ActivationWait,
    deadline: Deadline,
    api: &dyn IntegrationsApi,
    recorder: &mut Recorder<'_>,
    progress: &mut dyn ApplyProgress,
) -> Result<String, ConfigureError> {
    let id = &written.integration_id;
    let error = match wait_until_active(api, id, wait, deadline).await {
        Ok(state) => return Ok(state),
        Err(error) => error,
    };
    let outcome = match &error {
        ConfigureError::NotActive {
            state,
            timed_out: false,
        } => format!("applied, activation failed: {state}"),
        ConfigureError::NotActive {
            state,
            timed_out: true,
        } => format!(
            "applied, activation timed out: still {state} after {} s",
            wait.bounded().timeout.as_secs()
        ),
        other => format!(
            "applied, activation not confirmed: {}",
            gev_core::error_chain(other)
        ),
    };
    let record = Record {
        integration_id: id.as_str(),
        action: "activation",
        version_before: Some(written.version_after),
        version_after: written.version_after,
        outcome: &outcome,
    };
    recorder.record(record, progress).await;
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotifyError;
    use async_trait::async_trait;
    use gev_genesys::GenesysError;
    use gev_genesys::integrations::{
        AvailableTopic, ConfigWrite, Integration, IntegrationConfig, IntendedState,
    };
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    const DESIRED: &str = include_str!("../../examples/integration.json");

    /// Genesys without the integration: it creates it, saves its configuration, and reports
    /// ACTIVE once enabled. Each read of the integration (the wait for activation) notes how
    /// many lines the audit log has at that moment.
    struct Genesys {
        audit_log: PathBuf,
        integration: Mutex<Option<Integration>>,
        config: Mutex<Option<IntegrationConfig>>,
        log_lines_when_waiting: Mutex<Vec<usize>>,
    }

    impl Genesys {
        fn new(audit_log: &Path) -> Self {
            Genesys {
                audit_log: audit_log.to_owned(),
                integration: Mutex::new(None),
                config: Mutex::new(None),
                log_lines_when_waiting: Mutex::new(Vec::new()),
            }
        }

        fn created(&self) -> bool {
            self.integration.lock().unwrap().is_some()
        }
    }

    #[async_trait]
    impl IntegrationsApi for Genesys {
        async fn list_integrations(&self, _: Deadline) -> Result<Vec<Integration>, GenesysError> {
            Ok(self.integration.lock().unwrap().iter().cloned().collect())
        }

        async fn integration(
            &self,
            _: &IntegrationId,
            _: Deadline,
        ) -> Result<Integration, GenesysError> {
            let lines = std::fs::read_to_string(&self.audit_log)
                .unwrap_or_default()
                .lines()
                .count();
            self.log_lines_when_waiting.lock().unwrap().push(lines);
            let mut integration = self.integration.lock().unwrap().clone().unwrap();
            integration.reported_state = "ACTIVE".into();
            Ok(integration)
        }

        async fn create_integration(
            &self,
            name: &str,
            _: Deadline,
        ) -> Result<Integration, GenesysError> {
            let integration = Integration {
                id: IntegrationId::parse("integration-1").unwrap(),
                name: name.to_owned(),
                intended_state: "DISABLED".into(),
                reported_state: "INACTIVE".into(),
            };
            *self.integration.lock().unwrap() = Some(integration.clone());
            *self.config.lock().unwrap() = Some(IntegrationConfig {
                name: name.to_owned(),
                version: 1,
                properties: Default::default(),
                notes: None,
                advanced: Value::Null,
                credentials: Value::Null,
            });
            Ok(integration)
        }

        async fn config(
            &self,
            _: &IntegrationId,
            _: Deadline,
        ) -> Result<IntegrationConfig, GenesysError> {
            Ok(self.config.lock().unwrap().clone().unwrap())
        }

        async fn put_config(
            &self,
            _: &IntegrationId,
            config: &IntegrationConfig,
            _: Deadline,
        ) -> Result<ConfigWrite, GenesysError> {
            let mut saved = config.clone();
            saved.version += 1;
            *self.config.lock().unwrap() = Some(saved.clone());
            Ok(ConfigWrite::Saved(Box::new(saved)))
        }

        async fn set_intended_state(
            &self,
            _: &IntegrationId,
            state: IntendedState,
            _: Deadline,
        ) -> Result<Integration, GenesysError> {
            let mut guard = self.integration.lock().unwrap();
            let integration = guard.as_mut().unwrap();
            integration.intended_state = match state {
                IntendedState::Enabled => "ENABLED".into(),
                IntendedState::Disabled => "DISABLED".into(),
            };
            integration.reported_state = "ACTIVATING".into();
            Ok(integration.clone())
        }

        async fn available_topics(&self, _: Deadline) -> Result<Vec<AvailableTopic>, GenesysError> {
            let desired: Value = serde_json::from_str(DESIRED).unwrap();
            Ok(desired["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|topic| AvailableTopic {
                    id: topic.as_str().unwrap().to_owned(),
                    transports: vec!["EventBridge".into()],
                })
                .collect())
        }

        async fn organization_id(&self, _: Deadline) -> Result<String, GenesysError> {
            Ok("org-1".into())
        }

        async fn properties_schema(&self, _: Deadline) -> Result<Option<Value>, GenesysError> {
            Ok(None)
        }
    }

    /// A notifier that refuses every record.
    struct Refusing;

    #[async_trait]
    impl ChangeNotifier for Refusing {
        async fn notify(&self, _: &str) -> Result<(), NotifyError> {
            Err(NotifyError {
                topic_arn: "arn:aws:sns:eu-west-1:123456789012:changes".into(),
                source: "refused".into(),
            })
        }
    }

    /// What apply said, in order, and the answer it gets when it asks.
    struct Said {
        events: Vec<String>,
        answer: Result<(), Unconfirmed>,
    }

    impl Said {
        fn confirming() -> Self {
            Said {
                events: Vec::new(),
                answer: Ok(()),
            }
        }
    }

    impl ApplyProgress for Said {
        fn plan_ready(&mut self, _: &IntegrationSpec, plan: &Plan) {
            self.events.push(format!("plan {:?}", plan.action));
        }
        fn written(&mut self, written: &Written, partial: bool) {
            self.events
                .push(format!("written {} partial {partial}", written.describe()));
        }
        fn recorded(&mut self, recorded: &Recorded<'_>) {
            self.events.push(format!("recorded {}", recorded.outcome));
        }
        fn record_failed(&mut self, failure: &RecordFailure) {
            let what = match failure {
                RecordFailure::NotWritten { .. } => "not written",
                RecordFailure::NotPublished(_) => "not published",
            };
            self.events.push(format!("record {what}"));
        }
        fn reported_state(&mut self, _: &IntegrationId, state: &str) {
            self.events.push(format!("reported {state}"));
        }
        fn bus_associated(&mut self, bus: &str) {
            self.events.push(format!("bus {bus}"));
        }
    }

    impl Confirm for Said {
        fn confirm(&mut self) -> Result<(), Unconfirmed> {
            self.events.push("asked".into());
            self.answer
        }
    }

    /// A path in the temporary directory, its file removed when it goes out of scope.
    struct TempPath(PathBuf);

    impl std::ops::Deref for TempPath {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl AsRef<Path> for TempPath {
        fn as_ref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn temp_path(name: &str) -> TempPath {
        TempPath(std::env::temp_dir().join(format!("{name}-{:016x}", fastrand::u64(..))))
    }

    fn desired_file() -> TempPath {
        let path = temp_path("integration.json");
        std::fs::write(&path, DESIRED).unwrap();
        path
    }

    fn no_aws() -> AwsConnector {
        Box::new(|_: &str| -> BoxFuture<'static, Box<dyn EventSources>> {
            panic!("this apply must not reach AWS")
        })
    }

    fn notifier(published: Arc<Mutex<usize>>) -> NotifierConnector {
        Box::new(
            move |_: &str| -> BoxFuture<'static, Box<dyn ChangeNotifier>> {
                *published.lock().unwrap() += 1;
                Box::pin(async { Box::new(Refusing) as Box<dyn ChangeNotifier> })
            },
        )
    }

    fn options<'a>(audit_log: &'a Path, topic: Option<&'a str>) -> ApplyOptions<'a> {
        ApplyOptions {
            audit_log,
            activation: ActivationWait {
                timeout: Duration::from_secs(2),
                interval: Duration::from_millis(1),
            },
            associate_bus: true,
            notify_topic_arn: topic,
            who: "client-1",
        }
    }

    #[tokio::test]
    async fn a_write_genesys_accepts_is_recorded_before_the_wait_for_activation() {
        let audit_log = temp_path("audit.jsonl");
        let genesys = Genesys::new(&audit_log);
        let (aws, notifiers) = (no_aws(), notifier(Arc::default()));
        let ports = ApplyPorts {
            api: &genesys,
            aws: &aws,
            notifier: &notifiers,
        };
        let mut said = Said::confirming();
        let mut options = options(&audit_log, None);
        options.associate_bus = false;

        let report = run_apply(&desired_file(), options, ports, &mut said)
            .await
            .unwrap();

        assert_eq!(*genesys.log_lines_when_waiting.lock().unwrap(), vec![1]);
        assert_eq!(
            said.events,
            [
                "plan Create",
                "asked",
                "written created, configuration written (version 2), enabled partial false",
                "recorded applied",
                "reported ACTIVE",
            ]
        );
        assert!(matches!(
            report.outcome,
            ApplyOutcome::Applied { ref reported_state, .. } if reported_state == "ACTIVE"
        ));
        assert_eq!((report.records, report.record_failures.len()), (1, 0));
        assert_eq!(report.bus, None);
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_published_is_reported_and_kept_and_no_bus_is_associated() {
        let audit_log = temp_path("audit.jsonl");
        let genesys = Genesys::new(&audit_log);
        let made = Arc::new(Mutex::new(0));
        let (aws, notifiers) = (no_aws(), notifier(made.clone()));
        let ports = ApplyPorts {
            api: &genesys,
            aws: &aws,
            notifier: &notifiers,
        };
        let mut said = Said::confirming();
        let topic = "arn:aws:sns:eu-west-1:123456789012:changes";

        let report = run_apply(
            &desired_file(),
            options(&audit_log, Some(topic)),
            ports,
            &mut said,
        )
        .await
        .unwrap();

        assert_eq!(*made.lock().unwrap(), 1);
        assert_eq!(
            said.events[3..],
            [
                "recorded applied",
                "record not published",
                "reported ACTIVE"
            ]
        );
        assert_eq!(report.records, 1);
        assert!(matches!(
            report.record_failures[..],
            [RecordFailure::NotPublished(_)]
        ));
        assert_eq!(
            report.bus, None,
            "associate_bus was asked for, but a record failed"
        );
    }

    #[tokio::test]
    async fn changes_not_confirmed_are_not_written_but_the_log_was_opened_first() {
        let audit_log = temp_path("audit.jsonl");
        let genesys = Genesys::new(&audit_log);
        let made = Arc::new(Mutex::new(0));
        let (aws, notifiers) = (no_aws(), notifier(made.clone()));
        let ports = ApplyPorts {
            api: &genesys,
            aws: &aws,
            notifier: &notifiers,
        };
        let mut said = Said {
            events: Vec::new(),
            answer: Err(Unconfirmed::Declined),
        };
        let topic = "arn:aws:sns:eu-west-1:123456789012:changes";

        let result = run_apply(
            &desired_file(),
            options(&audit_log, Some(topic)),
            ports,
            &mut said,
        )
        .await;

        assert!(matches!(
            result,
            Err(ApplyError::NotConfirmed(Unconfirmed::Declined))
        ));
        assert_eq!(said.events, ["plan Create", "asked"]);
        assert!(!genesys.created());
        assert_eq!(*made.lock().unwrap(), 0);
        assert_eq!(std::fs::read_to_string(&audit_log).unwrap(), "");
    }

    #[tokio::test]
    async fn an_unusable_audit_log_stops_apply_before_it_asks() {
        let audit_log = temp_path("no-such-dir").join("audit.jsonl");
        let genesys = Genesys::new(&audit_log);
        let (aws, notifiers) = (no_aws(), notifier(Arc::default()));
        let ports = ApplyPorts {
            api: &genesys,
            aws: &aws,
            notifier: &notifiers,
        };
        let mut said = Said::confirming();

        let result = run_apply(&desired_file(), options(&audit_log, None), ports, &mut said).await;

        assert!(matches!(result, Err(ApplyError::AuditLogUnusable(_))));
        assert_eq!(said.events, ["plan Create"]);
        assert!(!genesys.created());
    }
}
