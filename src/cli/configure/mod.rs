//! `genesys-eventbridge configure plan|apply|status|check|audit`: its arguments, the desired state from a file, the plan, the apply, the audit chain; exit codes as DESIGN.md says.

mod check;
mod output;

pub use check::check;
use output::{print_plan, print_status};

use super::{say, show};
use crate::configure::audit::{self, AuditEntry, AuditError, AuditLog};
use crate::configure::event_pattern::UnsupportedPattern;
use crate::configure::{
    self, ActivationWait, ConfigureError, Found, WriteFailure, Written, partner_bus,
};
use crate::eventbridge::{EventSources, partner_source_name};
use crate::notify::ChangeNotifier;
use futures_util::future::BoxFuture;
use gev_core::deadline::Deadline;
use gev_core::domain::integration::{Action, IntegrationSpec, Plan};
use gev_genesys::integrations::IntegrationsApi;
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one configure command may take in all.
const BUDGET: Duration = Duration::from_secs(120);

/// Makes the EventBridge client of a region (the desired state says which region).
pub type AwsConnector =
    Box<dyn Fn(&str) -> BoxFuture<'static, Box<dyn EventSources>> + Send + Sync>;

/// Makes the notifier of a topic ARN.
pub type NotifierConnector =
    Box<dyn Fn(&str) -> BoxFuture<'static, Box<dyn ChangeNotifier>> + Send + Sync>;

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

/// The Genesys EventBridge integration as code: plan, apply, status, audit verify.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The action.
    #[command(subcommand)]
    pub action: Subcommand,
}

/// A configure action, as the command line gives it.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Subcommand {
    /// Show what apply would change (reads only).
    Plan {
        /// The desired state (JSON).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// Exit with 4 when changes are pending (0 when none).
        #[arg(long)]
        exit_code: bool,
        /// Print the plan as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Show the plan and perform it; never overwrites a change made since it was read.
    Apply {
        /// The desired state (JSON).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// Apply without asking (required when input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Where every applied change is recorded (a hash chain).
        #[arg(long, value_name = "PATH", default_value = "integration-audit.jsonl")]
        audit_log: PathBuf,
        /// How long to wait for an enabled integration to report ACTIVE (and for the partner
        /// event source to appear), at most 3600.
        #[arg(long, default_value_t = 60, value_name = "SECONDS",
              value_parser = clap::value_parser!(u64).range(0..=3600))]
        wait_seconds: u64,
        /// Then create the partner event bus on AWS (region: the file's awsRegion) once the
        /// partner event source appears, and print its name for `sam deploy`.
        #[arg(long)]
        associate_bus: bool,
        /// Also publish each applied change (its audit record, never a secret) to this SNS topic.
        #[arg(long, value_name = "ARN")]
        notify_topic_arn: Option<String>,
    },
    /// The projection test: each topic's sample event through the template's rule and the
    /// consumer's parser (exit 3 when a topic is not delivered or its events are rejected).
    Check {
        /// The desired state (JSON).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// The SAM template whose rule delivers the events.
        #[arg(long, value_name = "PATH", default_value = "template.yaml")]
        template: PathBuf,
        /// Where sample events are taken from, by detail-type, when one exists.
        #[arg(long, value_name = "DIR", default_value = "events")]
        events_dir: PathBuf,
    },
    /// Show the integration as Genesys has it, its partner event source, and the audit log's
    /// head (keep it: `audit verify --expect-head` compares).
    Status {
        /// The desired state (JSON).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// The audit log whose head is shown.
        #[arg(long, value_name = "PATH", default_value = "integration-audit.jsonl")]
        audit_log: PathBuf,
    },
    /// Check the audit log's hash chain (exit 3 at a broken or cut-short line, or a head other
    /// than --expect-head).
    Audit {
        /// The audit action.
        #[command(subcommand)]
        action: AuditAction,
    },
}

/// An action on the audit log.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuditAction {
    /// Verify the chain (and, with --expect-head, that the log ends at that head).
    Verify {
        /// The audit log.
        #[arg(long, value_name = "PATH", default_value = "integration-audit.jsonl")]
        audit_log: PathBuf,
        /// The head the log must end with: the `head` of the last SNS record, or what `status`
        /// showed (exit 3 naming both when it differs).
        #[arg(long, value_name = "SHA256")]
        expect_head: Option<String>,
    },
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
            let options = ApplyOptions {
                yes,
                audit_log: &audit_log,
                activation,
                associate_bus,
                notify_topic_arn: notify_topic_arn.as_deref(),
            };
            apply(&file, options, api, terminal).await
        }
        Request::Status { file, audit_log } => status(&file, &audit_log, api, terminal).await,
        Request::AuditVerify {
            audit_log,
            expect_head,
        } => verify_audit_log(&audit_log, expect_head.as_deref(), terminal),
    };
    finish(&result, terminal.err)
}

/// Reads and checks the desired state, locally and against Genesys (all problems at once).
async fn desired(
    file: &Path,
    api: &dyn IntegrationsApi,
    deadline: Deadline,
) -> Result<IntegrationSpec, ConfigureError> {
    let text = std::fs::read_to_string(file).map_err(|error| {
        ConfigureError::Invalid(vec![gev_core::domain::integration::SpecProblem {
            field: file.display().to_string(),
            problem: format!("cannot be read: {error}"),
        }])
    })?;
    configure::desired_state(api, &text, deadline).await
}

/// The desired state of `file` (checked), the integration it names as Genesys has it, and the
/// plan between them: what `plan`, `apply` and `status` all start from.
async fn read_and_plan(
    file: &Path,
    api: &dyn IntegrationsApi,
    deadline: Deadline,
) -> Result<(IntegrationSpec, Option<Found>, Plan), ConfigureError> {
    let spec = desired(file, api, deadline).await?;
    let found = configure::find(api, &spec, deadline).await?;
    let plan = configure::plan_for(&spec, found.as_ref());
    Ok((spec, found, plan))
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

/// How `apply` runs.
struct ApplyOptions<'a> {
    yes: bool,
    audit_log: &'a Path,
    activation: ActivationWait,
    associate_bus: bool,
    notify_topic_arn: Option<&'a str>,
}

async fn apply(
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
