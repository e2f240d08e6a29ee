//! `genesys-eventbridge configure plan|apply|status|check|audit`: the desired state from a file, the plan, the apply, the audit chain; exit codes as DESIGN.md says.

mod check;
mod output;

pub use check::check;
use output::{print_plan, print_status};

use crate::configure::audit::{self, AuditEntry};
use crate::configure::{self, ActivationWait, ConfigureError, Found, partner_bus};
use crate::deadline::Deadline;
use crate::domain::integration::{Action, IntegrationSpec, Plan, parse_spec};
use crate::eventbridge::{EventSources, partner_source_name};
use crate::genesys::integrations::IntegrationsApi;
use crate::notify::ChangeNotifier;
use futures_util::future::BoxFuture;
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
    /// Show the integration as Genesys has it, and the partner event source it makes.
    Status {
        /// The desired state's file.
        file: PathBuf,
    },
    /// Check the audit log's hash chain.
    AuditVerify {
        /// The log.
        audit_log: PathBuf,
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

/// Runs `request` against `api`; returns the exit status.
pub async fn run(request: Request, api: &dyn IntegrationsApi, terminal: &mut Terminal<'_>) -> i32 {
    let outcome = match request {
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
        Request::Status { file } => status(&file, api, terminal).await,
        Request::AuditVerify { audit_log } => Ok(audit_verify(&audit_log, terminal)),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(terminal.err, "configure: {}", crate::error_chain(&error));
            error.exit_code()
        }
    }
}

/// Reads and checks the desired state, locally then against Genesys (all problems at once).
async fn desired(
    file: &Path,
    api: &dyn IntegrationsApi,
    deadline: Deadline,
) -> Result<IntegrationSpec, ConfigureError> {
    let text = std::fs::read_to_string(file).map_err(|error| {
        ConfigureError::Invalid(vec![crate::domain::integration::SpecProblem {
            field: file.display().to_string(),
            problem: format!("cannot be read: {error}"),
        }])
    })?;
    let spec = parse_spec(&text).map_err(ConfigureError::Invalid)?;
    let problems = configure::validate_remotely(api, &spec, deadline).await?;
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(ConfigureError::Invalid(problems))
    }
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
) -> Result<i32, ConfigureError> {
    let (spec, _, plan) = read_and_plan(file, api, Deadline::after(BUDGET)).await?;
    if options.json {
        let _ = writeln!(
            terminal.out,
            "{}",
            serde_json::to_string(&plan).unwrap_or_default()
        );
    } else {
        print_plan(&spec, &plan, terminal.out);
    }
    Ok(if options.exit_code && plan.has_changes() {
        4
    } else {
        0
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
) -> Result<i32, ConfigureError> {
    let deadline = Deadline::after(BUDGET);
    let (spec, found, plan) = read_and_plan(file, api, deadline).await?;
    print_plan(&spec, &plan, terminal.out);
    if plan.has_changes() {
        if !options.yes && !confirmed(terminal) {
            return Ok(2);
        }
        let code = apply_plan(
            &spec,
            &plan,
            found.as_ref(),
            &options,
            deadline,
            api,
            terminal,
        )
        .await?;
        if code != 0 {
            return Ok(code);
        }
    }
    if options.associate_bus {
        let name = partner_source_name(
            &api.organization_id(deadline).await?,
            &spec.event_source_suffix,
        );
        let sources = (terminal.aws)(&spec.aws_region).await;
        let wait = options.activation;
        let bus =
            partner_bus::associate(sources.as_ref(), &name, wait.timeout, wait.interval).await?;
        let _ = writeln!(
            terminal.out,
            "event bus {bus} receives the integration's events: give it to `sam deploy` as EventBusName"
        );
    }
    Ok(0)
}

/// Performs a plan with changes and records it in the audit log.
async fn apply_plan(
    spec: &IntegrationSpec,
    plan: &Plan,
    found: Option<&Found>,
    options: &ApplyOptions<'_>,
    deadline: Deadline,
    api: &dyn IntegrationsApi,
    terminal: &mut Terminal<'_>,
) -> Result<i32, ConfigureError> {
    let (audit_log, activation) = (options.audit_log, options.activation);
    let applied = configure::apply(api, spec, plan, found, activation, deadline).await?;
    let _ = writeln!(
        terminal.out,
        "applied: integration {}, configuration version {} -> {}, reported state {}",
        applied.integration_id,
        applied
            .version_before
            .map_or("none".into(), |v| v.to_string()),
        applied.version_after,
        applied.reported_state
    );
    let entry = AuditEntry {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        who: &terminal.who,
        integration_id: applied.integration_id.as_str(),
        action: if plan.action == Action::Create {
            "create"
        } else {
            "update"
        },
        version_before: applied.version_before,
        version_after: applied.version_after,
        changes: serde_json::to_value(&plan.changes).unwrap_or(Value::Null),
    };
    let line = match audit::append(audit_log, &entry) {
        Ok(line) => line,
        Err(error) => {
            let _ = writeln!(terminal.err, "configure: {}", crate::error_chain(&error));
            return Ok(1);
        }
    };
    if let Some(topic_arn) = options.notify_topic_arn {
        let notifier = (terminal.notifier)(topic_arn).await;
        if let Err(error) = notifier.notify(&line).await {
            let _ = writeln!(terminal.err, "configure: {}", crate::error_chain(&error));
            return Ok(1);
        }
    }
    Ok(0)
}

/// Asks on a terminal; without one (and without `--yes`) refuses.
fn confirmed(terminal: &mut Terminal<'_>) -> bool {
    if !terminal.interactive {
        let _ = writeln!(
            terminal.err,
            "configure: apply changes nothing without --yes when its input is not a terminal"
        );
        return false;
    }
    let _ = write!(terminal.err, "Apply these changes? [y/N] ");
    let _ = terminal.err.flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

async fn status(
    file: &Path,
    api: &dyn IntegrationsApi,
    terminal: &mut Terminal<'_>,
) -> Result<i32, ConfigureError> {
    let deadline = Deadline::after(BUDGET);
    let (spec, found, _) = read_and_plan(file, api, deadline).await?;
    let Some(found) = found else {
        let _ = writeln!(terminal.out, "integration {:?}: absent", spec.name);
        return Ok(0);
    };
    print_status(&found, terminal.out);
    let org = api.organization_id(deadline).await?;
    let name = partner_source_name(&org, &found.config.properties.event_source_suffix);
    let _ = writeln!(terminal.out, "  partner event source: {name}");
    let sources = (terminal.aws)(&spec.aws_region).await;
    let _ = match partner_bus::status(sources.as_ref(), &name).await {
        Ok(status) => writeln!(
            terminal.out,
            "  on AWS ({}): source {}, bus {}",
            spec.aws_region,
            status.source_state.as_deref().unwrap_or("absent"),
            if status.bus_associated {
                "associated"
            } else {
                "not associated"
            }
        ),
        Err(error) => writeln!(
            terminal.out,
            "  on AWS: not checked ({})",
            crate::error_chain(&error)
        ),
    };
    Ok(0)
}

/// `configure audit verify`: checks the audit log's chain; 3 at the first broken line.
pub fn audit_verify(audit_log: &Path, terminal: &mut Terminal<'_>) -> i32 {
    match audit::verify(audit_log) {
        Ok(lines) => {
            let _ = writeln!(
                terminal.out,
                "{}: {lines} line(s), chain intact",
                audit_log.display()
            );
            0
        }
        Err(error) => {
            let _ = writeln!(terminal.err, "configure: {}", crate::error_chain(&error));
            3
        }
    }
}
