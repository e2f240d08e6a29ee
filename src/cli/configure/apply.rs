//! `configure apply`'s wiring and printing: the use case (`crate::configure::run_apply`) run with the terminal's ports, its progress printed (the plan, what was written and recorded, the state reached, the bus), the confirmation asked on the terminal, and how it ended turned into an `Ended` or a `Failure`.

use super::output::print_plan;
use super::{Ended, Failure, Terminal};
use crate::cli::{say, show};
use crate::configure::{
    self, ActivationWait, ApplyPorts, ApplyProgress, Confirm, RecordFailure, Recorded, Unconfirmed,
    Written,
};
use gev_core::domain::IntegrationId;
use gev_core::domain::integration::{IntegrationSpec, Plan};
use gev_genesys::integrations::IntegrationsApi;
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
    let ports = ApplyPorts {
        api,
        aws: &terminal.aws,
        notifier: &terminal.notifier,
    };
    let use_case = configure::ApplyOptions {
        audit_log: options.audit_log,
        activation: options.activation,
        associate_bus: options.associate_bus,
        notify_topic_arn: options.notify_topic_arn,
        who: &terminal.who,
    };
    let mut printer = ApplyPrinter {
        out: &mut *terminal.out,
        err: &mut *terminal.err,
        yes: options.yes,
        interactive: terminal.interactive,
    };
    let report = configure::run_apply(file, use_case, ports, &mut printer).await?;
    Ok(if report.record_failures.is_empty() {
        Ended::Done
    } else {
        Ended::NotRecorded
    })
}

/// Prints what apply does: results on `out`, records that failed on `err`; asks there too.
struct ApplyPrinter<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    /// `--yes`: confirmed without asking.
    yes: bool,
    /// A person can answer on stdin.
    interactive: bool,
}

impl ApplyProgress for ApplyPrinter<'_> {
    fn plan_ready(&mut self, spec: &IntegrationSpec, plan: &Plan) {
        print_plan(spec, plan, self.out);
    }

    fn written(&mut self, written: &Written, partial: bool) {
        say(
            self.out,
            format_args!(
                "{}: integration {}, {}",
                if partial { "partial" } else { "applied" },
                written.integration_id,
                written.describe()
            ),
        );
    }

    fn recorded(&mut self, recorded: &Recorded<'_>) {
        say(
            self.out,
            format_args!(
                "recorded in {}: {}, head {}",
                recorded.log.display(),
                recorded.outcome,
                recorded.head
            ),
        );
    }

    fn record_failed(&mut self, failure: &RecordFailure) {
        match failure {
            RecordFailure::NotWritten {
                error,
                integration_id,
                outcome,
            } => say(
                self.err,
                format_args!(
                    "configure: {}: what Genesys accepted ({integration_id}: {outcome}) is NOT recorded",
                    gev_core::error_chain(error)
                ),
            ),
            RecordFailure::NotPublished(error) => say(
                self.err,
                format_args!("configure: {}", gev_core::error_chain(error)),
            ),
        }
    }

    fn reported_state(&mut self, integration_id: &IntegrationId, state: &str) {
        say(
            self.out,
            format_args!("integration {integration_id}: reported state {state}"),
        );
    }

    fn bus_associated(&mut self, bus: &str) {
        say(
            self.out,
            format_args!(
                "event bus {bus} receives the integration's events: give it to `sam deploy` as EventBusName"
            ),
        );
    }
}

impl Confirm for ApplyPrinter<'_> {
    /// `--yes` confirms; otherwise asks on a terminal, and without one refuses.
    fn confirm(&mut self) -> Result<(), Unconfirmed> {
        if self.yes {
            return Ok(());
        }
        if !self.interactive {
            return Err(Unconfirmed::NoOneToAsk);
        }
        show(self.err, format_args!("Apply these changes? [y/N] "));
        let mut answer = String::new();
        // Unreadable stdin: no answer, which is no.
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            Ok(())
        } else {
            Err(Unconfirmed::Declined)
        }
    }
}
