//! The operator CLI: `invoke` runs the Lambda's handler locally on events from files;
//! `configure` keeps the Genesys EventBridge integration as code; `publish` puts events onto a
//! bus; `stream` listens to the Notifications API; `bridge` joins the two; `reconcile` publishes
//! the calls whose events never came.

use anyhow::Context;
use clap::{Parser, Subcommand};
use genesys_eventbridge::cli::configure::{self, Request, Terminal};
use genesys_eventbridge::cli::invoke;
use genesys_eventbridge::configure::ActivationWait;
use gev_consumer::{app, config::Config, config::GenesysAccess};
use gev_core::telemetry::{LogTarget, Telemetry, TelemetryOptions};
use std::path::PathBuf;
use std::time::Duration;

/// mimalloc: the consumer allocates many small, short-lived buffers per request, and measured
/// about 15 % less CPU per event than the system allocator (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "genesys-eventbridge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Lambda's handler on EventBridge events read from files (one event, a JSON array,
    /// or JSON lines; `-` is stdin), printing one JSON outcome per event and line.
    Invoke {
        /// An events file; repeat for several, handled in the order given. Default: stdin.
        #[arg(long = "events", value_name = "PATH")]
        events: Vec<String>,
        /// The time each event gets, like a Lambda function timeout.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        timeout_seconds: u64,
        /// Also draw each invocation's span tree, with durations, on stderr.
        #[arg(long)]
        trace_tree: bool,
        /// Print each payload's Lambda response instead of one line per event (e.g. an SQS
        /// batch's `batchItemFailures`); a payload may then be an SQS batch or a Step Functions item.
        #[arg(long)]
        lambda_response: bool,
    },
    /// The Genesys EventBridge integration as code: plan, apply, status, audit verify.
    Configure {
        #[command(subcommand)]
        action: ConfigureAction,
    },
    /// Publish Genesys notifications or EventBridge events (files, directories of *.json, or
    /// `-` for stdin) onto a bus, one JSON outcome line per event. Exit 0 all published or
    /// duplicate, 1 some failed after retries or audit messages not published, 3 some rejected,
    /// 2 bad settings or input.
    Publish(PublishArgs),
    /// Stream Genesys notifications of concrete topics over the Notifications API's WebSocket,
    /// one JSON line per notification, a gap record for every interval not listening; runs
    /// until SIGINT/SIGTERM (exit 0). Exit 2 for invalid topics or settings.
    Stream(genesys_eventbridge::cli::stream::Args),
    /// Stream → publish in one process: notifications of the given topics and of the calls on
    /// followed queues onto a bus, with a spool while the bus refuses; runs until SIGINT/SIGTERM
    /// (exit 0), publishing or spooling what is queued first.
    Bridge(genesys_eventbridge::cli::bridge::Args),
    /// Find the ended calls with no wrap-up whose events never reached the consumer (the
    /// analytics API, the dedup table) and publish a backfilled `user.end` for each onto the bus;
    /// one JSON line per agent leg. Exit 0 done, 1 a remote failure, 2 bad arguments or settings.
    Reconcile(genesys_eventbridge::cli::reconcile::Args),
    /// Check the consumer's settings (its environment) against Genesys before go-live: the
    /// token, the policy's queues and codes, the default code on every queue it can reach, the
    /// read permissions. One line per check; exit 0 all hold, 3 a check failed, 2 bad settings.
    Doctor,
}

#[derive(clap::Args)]
struct PublishArgs {
    /// The event bus, by name or ARN (an ARN's region is used).
    #[arg(long, value_name = "NAME_OR_ARN")]
    bus: String,
    /// An events file or directory; repeat for several, read in the order given. Default: stdin.
    #[arg(long = "events", value_name = "PATH")]
    events: Vec<String>,
    /// The `Source` of every entry (not `aws.`…).
    #[arg(long, default_value = genesys_eventbridge::publish::DEFAULT_SOURCE)]
    source: String,
    /// Publish one audit message per PutEvents request to this SNS topic (one not published
    /// makes the exit code 1).
    #[arg(long, value_name = "ARN")]
    audit_topic_arn: Option<String>,
    /// Write each rejected event, with its reason, to this file (JSON lines; not one of the
    /// inputs, and itself valid input for a later run).
    #[arg(long, value_name = "PATH")]
    rejects: Option<PathBuf>,
    /// The largest entry (and request) sent, as AWS counts bytes; up to 1048576 where raised.
    #[arg(long, default_value_t = genesys_eventbridge::publish::DEFAULT_MAX_BYTES, value_name = "N")]
    max_entry_bytes: usize,
    /// Validate and print the entries; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// PutEvents calls per request, the first included.
    #[arg(long, default_value_t = 8, value_name = "N")]
    max_attempts: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    concurrency: usize,
}

#[derive(Subcommand)]
enum ConfigureAction {
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
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Subcommand)]
enum AuditAction {
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

/// One thread, like the Lambda: the work waits on I/O, and thread hand-offs would cost more
/// than they give.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    // One TLS crypto provider for the process (the AWS SDK's): the WebSocket client's rustls
    // would otherwise have to pick one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let trace_tree = matches!(
        &cli.command,
        Command::Invoke {
            trace_tree: true,
            ..
        }
    );
    let options = TelemetryOptions {
        log_target: LogTarget::Terminal,
        default_level: "warn",
        collect_spans: trace_tree,
    };
    let telemetry = match Telemetry::init(options) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("genesys-eventbridge: {error}");
            std::process::exit(2);
        }
    };
    let code = match run(cli, &telemetry).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "genesys-eventbridge: {}",
                gev_core::error_chain(error.as_ref())
            );
            2
        }
    };
    telemetry.shutdown();
    std::process::exit(code);
}

async fn run(cli: Cli, telemetry: &Telemetry) -> anyhow::Result<i32> {
    match cli.command {
        Command::Invoke {
            events,
            timeout_seconds,
            trace_tree,
            lambda_response,
        } => {
            let config = Config::from_env()?;
            config.check_invocation_timeout(
                Duration::from_secs(timeout_seconds),
                "the invocation timeout --timeout-seconds",
            )?;
            let sources = if events.is_empty() {
                vec!["-".to_owned()]
            } else {
                events
            };
            let mut all = Vec::new();
            for source in &sources {
                all.extend(genesys_eventbridge::cli::input::read_events(source)?);
            }
            let consumer = app::build_consumer(&config).await?;
            let options = invoke::InvokeOptions {
                timeout: Duration::from_secs(timeout_seconds),
                trace_tree,
                lambda_response,
            };
            let mut stdout = std::io::stdout().lock();
            let mut stderr = std::io::stderr().lock();
            let summary = invoke::run(&consumer, all, options, telemetry, &mut stdout, &mut stderr)
                .await
                .context("cannot write the outcomes")?;
            // The process exits next: tearing down every dedup record and pooled connection
            // one by one would only cost time.
            std::mem::forget(consumer);
            Ok(summary.exit_code())
        }
        Command::Configure { action } => configure(action).await,
        Command::Publish(args) => Ok(publish(args).await),
        Command::Stream(args) => Ok(genesys_eventbridge::cli::stream::run(args).await),
        Command::Bridge(args) => Ok(genesys_eventbridge::cli::bridge::run(args).await),
        Command::Doctor => doctor().await,
        Command::Reconcile(args) => {
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            Ok(genesys_eventbridge::cli::reconcile::run(args, &mut out, &mut err).await)
        }
    }
}

/// `doctor`: the consumer's own settings, checked against Genesys.
async fn doctor() -> anyhow::Result<i32> {
    use std::io::Write;
    let config = Config::from_env()?;
    let access = gev_consumer::config::GenesysAccess {
        endpoints: config.endpoints.clone(),
        credentials: config.credentials.clone(),
    };
    let client = app::genesys_client(&access).await?;
    let policy = config.pipeline.effective_policy();
    let findings = gev_consumer::doctor::check(&client, &policy, Duration::from_secs(20)).await;
    let mut stdout = std::io::stdout().lock();
    for finding in &findings {
        let mark = if finding.ok { "ok  " } else { "FAIL" };
        writeln!(stdout, "{mark} {}: {}", finding.subject, finding.detail)?;
    }
    Ok(if findings.iter().all(|f| f.ok) { 0 } else { 3 })
}

/// `publish`: AWS's standard settings only (no Genesys or consumer settings needed).
async fn publish(args: PublishArgs) -> i32 {
    use genesys_eventbridge::cli::publish::{self, Console, PublishRequest};
    use genesys_eventbridge::publish::{BusSink, SendPolicy};
    let request = PublishRequest {
        bus: args.bus,
        events: args.events,
        source: args.source,
        rejects: args.rejects,
        max_entry_bytes: args.max_entry_bytes,
        dry_run: args.dry_run,
        policy: SendPolicy {
            max_attempts: args.max_attempts.max(1),
            concurrency: args.concurrency.max(1),
            ..SendPolicy::default()
        },
    };
    // A dry run sends nothing, so it needs no AWS settings (nor a region lookup).
    let sink: Box<dyn genesys_eventbridge::publish::EventSink> = if request.dry_run {
        Box::new(genesys_eventbridge::publish::NothingSent)
    } else {
        Box::new(BusSink::new(
            genesys_eventbridge::eventbridge::sdk::client_for_bus(&request.bus).await,
            &request.bus,
        ))
    };
    let notifier = match &args.audit_topic_arn {
        Some(arn) => Some(
            genesys_eventbridge::notify::SnsNotifier::new(arn)
                .await
                .with_subject("genesys-eventbridge publish: one PutEvents request"),
        ),
        None => None,
    };
    let audit = notifier
        .as_ref()
        .map(|notifier| notifier as &dyn genesys_eventbridge::notify::ChangeNotifier);
    // Buffered: publish flushes after each chunk of events, not after each line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut err = std::io::stderr().lock();
    let mut console = Console {
        out: &mut out,
        err: &mut err,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    publish::run(&request, sink.as_ref(), audit, &mut console).await
}

/// `configure`: the Genesys settings only (no consumer settings needed).
async fn configure(action: ConfigureAction) -> anyhow::Result<i32> {
    let request = match action {
        ConfigureAction::Plan {
            file,
            exit_code,
            json,
        } => Request::Plan {
            file,
            exit_code,
            json,
        },
        ConfigureAction::Apply {
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
                interval: Duration::from_millis(500),
            },
        },
        ConfigureAction::Status { file, audit_log } => Request::Status { file, audit_log },
        ConfigureAction::Check {
            file,
            template,
            events_dir,
        } => {
            let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
            let mut terminal = terminal(&mut out, &mut err, String::new());
            return Ok(configure::check(
                &file,
                &template,
                &events_dir,
                &mut terminal,
            ));
        }
        ConfigureAction::Audit {
            action:
                AuditAction::Verify {
                    audit_log,
                    expect_head,
                },
        } => {
            let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
            let mut terminal = terminal(&mut out, &mut err, String::new());
            return Ok(configure::audit_verify(
                &audit_log,
                expect_head.as_deref(),
                &mut terminal,
            ));
        }
    };
    let access = GenesysAccess::from_env()?;
    let client = app::genesys_client(&access).await?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut terminal = terminal(&mut out, &mut err, access.who());
    Ok(configure::run(request, &client, &mut terminal).await)
}

/// Where configure writes, acting as `who`, with the real AWS; it asks for confirmation only
/// when stdin is a terminal.
fn terminal<'a>(
    out: &'a mut dyn std::io::Write,
    err: &'a mut dyn std::io::Write,
    who: String,
) -> Terminal<'a> {
    Terminal {
        aws: configure::sdk_connector(),
        notifier: configure::sns_connector(),
        out,
        err,
        who,
        interactive: std::io::IsTerminal::is_terminal(&std::io::stdin()),
    }
}
