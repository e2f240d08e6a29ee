//! `genesys-eventbridge configure plan|apply|status|check|audit`: the run of each subcommand (its flags in `args.rs`; `apply.rs` apply's wiring, printer and confirmation, `check.rs` the projection test's; `output.rs` how plans and status print), how a run ends (`Ended`, `Failure`) and its exit code, decided in `exit_code` as DESIGN.md says.

mod apply;
mod args;
mod check;
mod output;

pub use args::{Args, AuditAction, Subcommand};
pub use check::check;
use output::{print_plan, print_status};

use super::say;
use crate::configure::audit::{self, AuditError};
use crate::configure::event_pattern::UnsupportedPattern;
use crate::configure::{
    ActivationWait, ApplyError, BUDGET, ConfigureError, Unconfirmed, partner_bus, read_and_plan,
};
pub use crate::configure::{AwsConnector, NotifierConnector};
use crate::eventbridge::{EventSources, partner_source_name};
use crate::notify::ChangeNotifier;
use gev_core::deadline::Deadline;
use gev_genesys::integrations::IntegrationsApi;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The notifier of the real SNS.
pub fn sns_connector() -> NotifierConnector {
    Box::new(|topic_arn: &str| {
        let topic_arn = topic_arn.to_owned();
        Box::pin(async move {
            Box::new(crate::notify::SnsNotifier::new(&topic_arn).await) as Box<dyn ChangeNotifier>
        })
    })
}

/// The connector of the real AWS: the SDK's standard settings, in the given region.
pub fn sdk_connector() -> AwsConnector {
    Box::new(|region: &str| {
        let region = region.to_owned();
        Box::pin(async move {
            let sources = crate::eventbridge::SdkEventSources::in_region(&region).await;
            Box::new(sources) as Box<dyn EventSources>
        })
    })
}

/// How often apply looks whether the integration is ACTIVE (and the partner event source there).
const ACTIVATION_POLL: Duration = Duration::from_millis(500);

/// Runs `configure` as `args` say: `check` and `audit verify` offline, the others with the
/// Genesys settings of the environment (and AWS's standard ones); results on stdout, progress
/// and problems on stderr; returns the exit code.
pub async fn run(args: Args) -> i32 {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let request = match args.action {
        Subcommand::Plan {
            file,
            exit_code,
            json,
        } => Request::Plan {
            file,
            exit_code,
            json,
        },
        Subcommand::Apply {
            file,
            yes,
            audit_log,
            wait_seconds,
            associate_bus,
            notify_topic_arn,
        } => Request::Apply {
            notify_topic_arn,
            file,
            yes,
            audit_log,
            associate_bus,
            activation: ActivationWait {
                timeout: Duration::from_secs(wait_seconds),
                interval: ACTIVATION_POLL,
            },
        },
        Subcommand::Status { file, audit_log } => Request::Status { file, audit_log },
        Subcommand::Check {
            file,
            template,
            events_dir,
        } => {
            let mut terminal = Terminal::real(&mut out, &mut err, String::new());
            return check(&file, &template, &events_dir, &mut terminal);
        }
        Subcommand::Audit {
            action:
                AuditAction::Verify {
                    audit_log,
                    expect_head,
                },
        } => {
            let mut terminal = Terminal::real(&mut out, &mut err, String::new());
            return audit_verify(&audit_log, expect_head.as_deref(), &mut terminal);
        }
    };
    let (client, who) = match genesys_client().await {
        Ok(wired) => wired,
        Err(error) => {
            error.print(&mut err);
            return super::exit::BAD_INPUT;
        }
    };
    let mut terminal = Terminal::real(&mut out, &mut err, who);
    run_with(request, &client, &mut terminal).await
}

/// The Genesys client of the environment's settings, and who it acts as.
async fn genesys_client() -> Result<(gev_genesys::HttpGenesysClient, String), super::SettingsError>
{
    let access = gev_consumer::config::GenesysAccess::from_env()?;
    let client = gev_consumer::app::genesys_client(&access).await?;
    Ok((client, access.who()))
}

/// What a configure command is asked to do.
#[derive(Debug, Clone)]
pub enum Request {
    /// Show the changes; `exit_code`: 4 when some are pending; `json`: print the plan as JSON.
    Plan {
        /// The desired state's file.
        file: PathBuf,
        /// Exit with 4 when changes are pending.
        exit_code: bool,
        /// Print the plan as one JSON object.
        json: bool,
    },
    /// Show the plan, then perform it when confirmed.
    Apply {
        /// The desired state's file.
        file: PathBuf,
        /// Confirmed without asking.
        yes: bool,
        /// Where each change is recorded.
        audit_log: PathBuf,
        /// How long to wait for an enabled integration to report ACTIVE (and, with
        /// `associate_bus`, for the partner event source to appear).
        activation: ActivationWait,
        /// Also create the partner event bus on AWS once the source appears.
        associate_bus: bool,
        /// Also publish each applied change (its audit record) to this SNS topic.
        notify_topic_arn: Option<String>,
    },
    /// Show the integration as Genesys has it, the partner event source it makes, and the
    /// audit log's head.
    Status {
        /// The desired state's file.
        file: PathBuf,
        /// The audit log whose head is shown.
        audit_log: PathBuf,
    },
    /// Check the audit log's hash chain and, with `expect_head`, its head.
    AuditVerify {
        /// The log.
        audit_log: PathBuf,
        /// The head the log must end with (from the last SNS record, or `status`).
        expect_head: Option<String>,
    },
}

/// Where a command writes, who it acts as, and how it reaches AWS.
pub struct Terminal<'a> {
    /// Makes EventBridge clients (status, `--associate-bus`).
    pub aws: AwsConnector,
    /// Makes the notifier of an SNS topic (`--notify-topic-arn`).
    pub notifier: NotifierConnector,
    /// Results.
    pub out: &'a mut dyn Write,
    /// Progress and problems.
    pub err: &'a mut dyn Write,
    /// Who acts, for the audit log (an OAuth client id, never a secret).
    pub who: String,
    /// True when a person can answer on stdin (apply then asks instead of refusing).
    pub interactive: bool,
}

impl<'a> Terminal<'a> {
    /// Where configure writes, acting as `who`, with the real AWS; it asks for confirmation only
    /// when stdin is a terminal.
    pub fn real(out: &'a mut dyn Write, err: &'a mut dyn Write, who: String) -> Self {
        Terminal {
            aws: sdk_connector(),
            notifier: sns_connector(),
            out,
            err,
            who,
            interactive: std::io::IsTerminal::is_terminal(&std::io::stdin()),
        }
    }
}

/// How a configure command ended, when it did what it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Done.
    Done,
    /// `plan --exit-code`, with changes pending.
    ChangesPending,
    /// `check` found a topic not delivered or rejected, or `audit verify` a problem (each said
    /// on its line).
    ProblemsFound,
    /// Applied, but a record of it could not be written or published (said when it happened).
    NotRecorded,
}

/// Why a configure command failed; said once, as `configure: …`, by [`finish`].
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The use case's error.
    #[error(transparent)]
    Configure(Box<ConfigureError>),
    /// The integration was written (and recorded) but did not become ACTIVE, or its state could
    /// not be read.
    #[error(transparent)]
    NotActivated(Box<ConfigureError>),
    /// The audit log cannot take the record of a change, so nothing was written.
    #[error("{}; nothing was written to Genesys Cloud", gev_core::error_chain(.0))]
    AuditLogUnusable(#[source] AuditError),
    /// No `--yes`, and no terminal to ask on.
    #[error("apply changes nothing without --yes when its input is not a terminal")]
    NeedsYes,
    /// The person at the terminal did not confirm (nothing more to say).
    #[error("not confirmed")]
    Declined,
    /// A file `check` reads (the desired state, the template) that cannot be read or used.
    #[error("{}", path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The rule's pattern uses what `check` does not evaluate.
    #[error(transparent)]
    Pattern(#[from] UnsupportedPattern),
    /// `--expect-head` is not a SHA-256.
    #[error("--expect-head {0:?} is not a SHA-256 (64 hex digits)")]
    NotAHead(String),
    /// The audit log cannot be read (`audit verify`).
    #[error(transparent)]
    AuditLog(AuditError),
}

impl From<ConfigureError> for Failure {
    fn from(error: ConfigureError) -> Self {
        Failure::Configure(Box::new(error))
    }
}

impl From<ApplyError> for Failure {
    fn from(error: ApplyError) -> Self {
        match error {
            ApplyError::Configure(error) => Failure::Configure(error),
            ApplyError::NotActivated(error) => Failure::NotActivated(error),
            ApplyError::AuditLogUnusable(error) => Failure::AuditLogUnusable(error),
            ApplyError::NotConfirmed(Unconfirmed::NoOneToAsk) => Failure::NeedsYes,
            ApplyError::NotConfirmed(Unconfirmed::Declined) => Failure::Declined,
        }
    }
}

/// The exit code of a run (DESIGN.md): 0 done; 1 Genesys or AWS failed after retries, the
/// integration did not become ACTIVE, or a change was not recorded; 2 bad input (the file, a
/// flag, an unusable audit log, no confirmation); 3 a conflict, a `check` that fails, an audit
/// log that does not verify; 4 `plan --exit-code` with changes pending.
fn exit_code(result: &Result<Ended, Failure>) -> i32 {
    use super::exit::{BAD_INPUT, CHANGES_PENDING, REJECTED, REMOTE_FAILURE, SUCCESS};
    match result {
        Ok(Ended::Done) => SUCCESS,
        Ok(Ended::ChangesPending) => CHANGES_PENDING,
        Ok(Ended::ProblemsFound) => REJECTED,
        Ok(Ended::NotRecorded) | Err(Failure::NotActivated(_)) => REMOTE_FAILURE,
        Err(Failure::Configure(error)) => error_exit_code(error),
        Err(
            Failure::AuditLogUnusable(_)
            | Failure::NeedsYes
            | Failure::Declined
            | Failure::Unusable { .. }
            | Failure::Pattern(_)
            | Failure::NotAHead(_),
        ) => BAD_INPUT,
        Err(Failure::AuditLog(_)) => REJECTED,
    }
}

/// The exit code of the use case's error: 2 bad input, 3 a conflict to look at, 1 a remote
/// failure (an integration that does not become ACTIVE is one).
pub fn error_exit_code(error: &ConfigureError) -> i32 {
    use super::exit::{BAD_INPUT, REJECTED, REMOTE_FAILURE};
    match error {
        ConfigureError::Invalid(_) | ConfigureError::Ambiguous { .. } => BAD_INPUT,
        ConfigureError::Conflict { .. } => REJECTED,
        ConfigureError::Missing(_)
        | ConfigureError::Genesys(_)
        | ConfigureError::Aws(_)
        | ConfigureError::SourceMissing(_)
        | ConfigureError::NotActive { .. } => REMOTE_FAILURE,
    }
}

/// Says how the command failed, if it did (once, last); its exit code.
fn finish(result: &Result<Ended, Failure>, err: &mut dyn Write) -> i32 {
    if let Err(failure) = result
        && !matches!(failure, Failure::Declined)
    {
        say(
            err,
            format_args!("configure: {}", gev_core::error_chain(failure)),
        );
    }
    exit_code(result)
}

/// Runs `request` against `api`; returns the exit status.
pub async fn run_with(
    request: Request,
    api: &dyn IntegrationsApi,
    terminal: &mut Terminal<'_>,
) -> i32 {
    let result = match request {
        Request::Plan {
            file,
            exit_code,
            json,
        } => plan(&file, PlanOptions { exit_code, json }, api, terminal).await,
        Request::Apply {
            file,
            yes,
            audit_log,
            activation,
            associate_bus,
            notify_topic_arn,
        } => {
            let options = apply::ApplyOptions {
                yes,
                audit_log: &audit_log,
                activation,
                associate_bus,
                notify_topic_arn: notify_topic_arn.as_deref(),
            };
            apply::apply(&file, options, api, terminal).await
        }
        Request::Status { file, audit_log } => status(&file, &audit_log, api, terminal).await,
        Request::AuditVerify {
            audit_log,
            expect_head,
        } => verify_audit_log(&audit_log, expect_head.as_deref(), terminal),
    };
    finish(&result, terminal.err)
}

/// How `plan` reports.
struct PlanOptions {
    /// Exit with 4 when changes are pending.
    exit_code: bool,
    /// Print the plan as one JSON object.
    json: bool,
}

async fn plan(
    file: &Path,
    options: PlanOptions,
    api: &dyn IntegrationsApi,
    terminal: &mut Terminal<'_>,
) -> Result<Ended, Failure> {
    let (spec, _, plan) = read_and_plan(file, api, Deadline::after(BUDGET)).await?;
    if options.json {
        say(
            terminal.out,
            format_args!("{}", serde_json::to_string(&plan).unwrap_or_default()),
        );
    } else {
        print_plan(&spec, &plan, terminal.out);
    }
    Ok(if options.exit_code && plan.has_changes() {
        Ended::ChangesPending
    } else {
        Ended::Done
    })
}

async fn status(
    file: &Path,
    audit_log: &Path,
    api: &dyn IntegrationsApi,
    terminal: &mut Terminal<'_>,
) -> Result<Ended, Failure> {
    let deadline = Deadline::after(BUDGET);
    let (spec, found, _) = read_and_plan(file, api, deadline).await?;
    let Some(found) = found else {
        say(
            terminal.out,
            format_args!("integration {:?}: absent", spec.name),
        );
        print_audit_head(audit_log, terminal.out);
        return Ok(Ended::Done);
    };
    print_status(&found, terminal.out);
    let org = api
        .organization_id(deadline)
        .await
        .map_err(ConfigureError::from)?;
    let name = partner_source_name(&org, &found.config.properties.event_source_suffix);
    say(terminal.out, format_args!("  partner event source: {name}"));
    let sources = (terminal.aws)(&spec.aws_region).await;
    match partner_bus::status(sources.as_ref(), &name).await {
        Ok(status) => say(
            terminal.out,
            format_args!(
                "  on AWS ({}): source {}, bus {}",
                spec.aws_region,
                status.source_state.as_deref().unwrap_or("absent"),
                if status.bus_associated {
                    "associated"
                } else {
                    "not associated"
                }
            ),
        ),
        Err(error) => say(
            terminal.out,
            format_args!("  on AWS: not checked ({})", gev_core::error_chain(&error)),
        ),
    }
    print_audit_head(audit_log, terminal.out);
    Ok(Ended::Done)
}

/// The audit log's head, to keep outside the file (`audit verify --expect-head` compares).
fn print_audit_head(audit_log: &Path, out: &mut dyn Write) {
    let path = audit_log.display();
    match audit::head(audit_log) {
        Ok(Some(verified)) => say(
            out,
            format_args!(
                "  audit log {path}: {} record(s), head {}{}",
                verified.records,
                verified.head,
                if verified.problems.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} problem(s): run configure audit verify)",
                        verified.problems.len()
                    )
                }
            ),
        ),
        Ok(None) => say(out, format_args!("  audit log {path}: absent")),
        Err(error) => say(
            out,
            format_args!("  audit log: {}", gev_core::error_chain(&error)),
        ),
    }
}

/// `configure audit verify`: checks the audit log's chain and, with `expect_head`, that it ends
/// at that head; 3 when a line does not follow, one is cut short, or the head differs (both
/// named), 2 when `expect_head` is not a SHA-256.
pub fn audit_verify(
    audit_log: &Path,
    expect_head: Option<&str>,
    terminal: &mut Terminal<'_>,
) -> i32 {
    let result = verify_audit_log(audit_log, expect_head, terminal);
    finish(&result, terminal.err)
}

fn verify_audit_log(
    audit_log: &Path,
    expect_head: Option<&str>,
    terminal: &mut Terminal<'_>,
) -> Result<Ended, Failure> {
    if let Some(head) = expect_head
        && !(head.len() == 64 && head.bytes().all(|byte| byte.is_ascii_hexdigit()))
    {
        return Err(Failure::NotAHead(head.to_owned()));
    }
    let verified = audit::verify(audit_log, expect_head).map_err(Failure::AuditLog)?;
    let path = audit_log.display();
    if verified.problems.is_empty() {
        say(
            terminal.out,
            format_args!(
                "{path}: {} record(s), chain intact, head {}{}",
                verified.records,
                verified.head,
                if expect_head.is_some() {
                    " as expected"
                } else {
                    " (not compared: give --expect-head to detect a removed or edited last line)"
                }
            ),
        );
        return Ok(Ended::Done);
    }
    say(
        terminal.out,
        format_args!(
            "{path}: {} record(s), head {}, {} problem(s)",
            verified.records,
            verified.head,
            verified.problems.len()
        ),
    );
    for problem in &verified.problems {
        say(
            terminal.err,
            format_args!("configure: audit log {path}: {problem}"),
        );
    }
    Ok(Ended::ProblemsFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_is_exit_status_3_and_bad_input_2() {
        let conflict = ConfigureError::Conflict {
            planned: 3,
            now: 4,
            changed: "notes".into(),
        };
        let invalid = ConfigureError::Invalid(vec![]);
        let not_active = ConfigureError::NotActive {
            state: "ERROR".into(),
            timed_out: false,
        };
        assert_eq!(error_exit_code(&conflict), 3);
        assert_eq!(error_exit_code(&invalid), 2);
        assert_eq!(error_exit_code(&not_active), 1);
    }
}
