//! `configure apply`: the plan shown, confirmed, performed against the version read; each write Genesys accepts recorded in the audit log (and on SNS) before the wait for activation; the partner event bus with `--associate-bus`.

use super::output::print_plan;
use super::{BUDGET, Ended, Failure, Terminal, read_and_plan};
use crate::cli::{say, show};
use crate::configure::audit::{AuditEntry, AuditLog};
use crate::configure::{
    self, ActivationWait, ConfigureError, Found, WriteFailure, Written, partner_bus,
};
use crate::eventbridge::partner_source_name;
use crate::notify::ChangeNotifier;
use gev_core::deadline::Deadline;
use gev_core::domain::integration::{Action, IntegrationSpec, Plan};
use gev_genesys::integrations::IntegrationsApi;
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::Path;

/// How `apply` runs.
pub(super) struct ApplyOptions<'a> {
    pub(super) yes: bool,
    pub(super) audit_log: &'a Path,
    pub(super) activation: ActivationWait,
    pub(super) associate_bus: bool,
    pub(super) notify_topic_arn: Option<&'a str>,
}

pub(super) async fn apply(
    file: &Path,
    options: ApplyOptions<'_>,
    api: &dyn IntegrationsApi,
    terminal: &mut Terminal<'_>,
) -> Result<Ended, Failure> {
    let wait = options.activation.bounded();
    // The waits for activation and for the partner event source come on top of the requests.
    let deadline = Deadline::after(BUDGET.saturating_add(wait.timeout.saturating_mul(2)));
    let (spec, found, plan) = read_and_plan(file, api, deadline).await?;
    print_plan(&spec, &plan, terminal.out);
    if plan.has_changes() {
        // Before anything is written to Genesys: the change must be recordable.
        let mut log = AuditLog::open(options.audit_log).map_err(Failure::AuditLogUnusable)?;
        if !options.yes {
            confirm(terminal)?;
        }
        let planned = Planned {
            spec: &spec,
            plan: &plan,
            found: found.as_ref(),
        };
        let ended = apply_plan(planned, &options, &mut log, deadline, api, terminal).await?;
        if ended != Ended::Done {
            return Ok(ended);
        }
    }
    if options.associate_bus {
        let org = api
            .organization_id(deadline)
            .await
            .map_err(ConfigureError::from)?;
        let name = partner_source_name(&org, &spec.event_source_suffix);
        let sources = (terminal.aws)(&spec.aws_region).await;
        let bus =
            partner_bus::associate(sources.as_ref(), &name, wait.timeout, wait.interval).await?;
        say(
            terminal.out,
            format_args!(
                "event bus {bus} receives the integration's events: give it to `sam deploy` as EventBusName"
            ),
        );
    }
    Ok(Ended::Done)
}

/// Records in the audit log (and on SNS) what Genesys accepted.
struct Recorder<'a> {
    log: &'a mut AuditLog,
    notifier: Option<Box<dyn ChangeNotifier>>,
    who: String,
    changes: Value,
    /// Set when a record could not be written or published (exit 1).
    failed: bool,
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
    /// said on `err` and remembered.
    async fn record(&mut self, record: Record<'_>, out: &mut dyn Write, err: &mut dyn Write) {
        let entry = AuditEntry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            who: &self.who,
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
                self.failed = true;
                say(
                    err,
                    format_args!(
                        "configure: {}: what Genesys accepted ({}: {}) is NOT recorded",
                        gev_core::error_chain(&error),
                        record.integration_id,
                        record.outcome
                    ),
                );
                return;
            }
        };
        say(
            out,
            format_args!(
                "recorded in {}: {}, head {}",
                self.log.path().display(),
                record.outcome,
                appended.head
            ),
        );
        if let Some(notifier) = &self.notifier
            && let Err(error) = notifier.notify(&appended.anchored_record()).await
        {
            self.failed = true;
            say(
                err,
                format_args!("configure: {}", gev_core::error_chain(&error)),
            );
        }
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
    options: &ApplyOptions<'_>,
    log: &mut AuditLog,
    deadline: Deadline,
    api: &dyn IntegrationsApi,
    terminal: &mut Terminal<'_>,
) -> Result<Ended, Failure> {
    let Planned { spec, plan, found } = planned;
    let notifier = match options.notify_topic_arn {
        Some(topic_arn) => Some((terminal.notifier)(topic_arn).await),
        None => None,
    };
    let mut recorder = Recorder {
        log,
        notifier,
        who: terminal.who.clone(),
        changes: serde_json::to_value(&plan.changes).unwrap_or(Value::Null),
        failed: false,
    };
    let action = if plan.action == Action::Create {
        "create"
    } else {
        "update"
    };
    let (out, err) = (&mut *terminal.out, &mut *terminal.err);
    let (written, failure) = match configure::write(api, spec, plan, found, deadline).await {
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
                recorder.record(record, out, err).await;
            }
            return Err(error.into());
        }
    };
    let id = written.integration_id.as_str().to_owned();
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
    say(
        out,
        format_args!(
            "{}: integration {id}, {}",
            if failure.is_some() {
                "partial"
            } else {
                "applied"
            },
            written.describe()
        ),
    );
    let record = Record {
        integration_id: &id,
        action,
        version_before: written.version_before,
        version_after: written.version_after,
        outcome: &outcome,
    };
    recorder.record(record, out, err).await;
    if let Some((_, error)) = failure {
        return Err(error.into());
    }
    let reported = if spec.enabled {
        wait_for_activation(
            &written,
            options.activation,
            deadline,
            api,
            &mut recorder,
            out,
            err,
        )
        .await
        .map_err(|error| Failure::NotActivated(Box::new(error)))?
    } else {
        written.reported_state.clone()
    };
    say(
        out,
        format_args!("integration {id}: reported state {reported}"),
    );
    Ok(if recorder.failed {
        Ended::NotRecorded
    } else {
        Ended::Done
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
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<String, ConfigureError> {
    let id = &written.integration_id;
    let error = match configure::wait_until_active(api, id, wait, deadline).await {
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
    recorder.record(record, out, err).await;
    Err(error)
}

/// Asks on a terminal; without one (and without `--yes`) refuses.
fn confirm(terminal: &mut Terminal<'_>) -> Result<(), Failure> {
    if !terminal.interactive {
        return Err(Failure::NeedsYes);
    }
    show(terminal.err, format_args!("Apply these changes? [y/N] "));
    let mut answer = String::new();
    // Unreadable stdin: no answer, which is no.
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::Declined)
    }
}
