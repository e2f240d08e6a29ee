//! The operator CLI: `invoke` runs the Lambda's handler locally on events from files;
//! `configure` keeps the Genesys EventBridge integration as code; `publish` puts events onto a
//! bus; `stream` listens to the Notifications API; `bridge` joins the two; `reconcile` publishes
//! the calls whose events never came; `redrive` and `replay` put back what a dead-letter queue
//! or an archive holds; `doctor` checks the consumer's settings. Each command's
//! arguments, wiring, printing and exit code live in its `genesys_eventbridge::cli` module.

use clap::{Parser, Subcommand};
use genesys_eventbridge::cli;
use gev_core::telemetry::{LogTarget, Telemetry, TelemetryOptions};

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
    Invoke(cli::invoke::Args),
    /// The Genesys EventBridge integration as code: plan, apply, status, audit verify.
    Configure(cli::configure::Args),
    /// Publish Genesys notifications or EventBridge events (files, directories of *.json, or
    /// `-` for stdin) onto a bus, one JSON outcome line per event. Exit 0 all published or
    /// duplicate, 1 some failed after retries or audit messages not published, 3 some rejected,
    /// 2 bad settings or input.
    Publish(cli::publish::Args),
    /// Stream Genesys notifications of concrete topics over the Notifications API's WebSocket,
    /// one JSON line per notification, a gap record for every interval not listening; runs
    /// until SIGINT/SIGTERM (exit 0). Exit 2 for invalid topics or settings.
    Stream(cli::stream::Args),
    /// Stream → publish in one process: notifications of the given topics and of the calls on
    /// followed queues onto a bus, with a spool while the bus refuses; runs until SIGINT/SIGTERM
    /// (exit 0), publishing or spooling what is queued first.
    Bridge(cli::bridge::Args),
    /// Find the ended calls with no wrap-up whose events never reached the consumer (the
    /// analytics API, the dedup table) and publish a backfilled `user.end` for each onto the bus;
    /// one JSON line per agent leg. Exit 0 done, 1 a remote failure, 2 bad arguments or settings,
    /// 3 entries the bus refused for good.
    Reconcile(cli::reconcile::Args),
    /// Check the consumer's settings (its environment) against Genesys before go-live: the
    /// token, the policy's queues and codes, the default code on every queue it can reach, the
    /// read permissions. One line per check; exit 0 all hold, 3 a check failed, 2 bad settings.
    Doctor(cli::doctor::Args),
    /// Put the events of a dead-letter queue's messages back onto the bus, deleting each message
    /// once the bus took all of its events; one line per message (id, what it is, outcome).
    /// Exit 0 all redriven, 1 some kept for a later run, 3 some kept to look at, 2 bad settings.
    Redrive(cli::redrive::Args),
    /// Replay an EventBridge archive's events of a time window to the consumer's rule(s), and
    /// with --wait follow the replay to its end. Exit 0 started or completed, 1 failed or timed
    /// out, 3 cancelled, 2 bad settings.
    Replay(cli::replay::Args),
}

/// One thread, like the Lambda: the work waits on I/O, and thread hand-offs would cost more
/// than they give.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    // One TLS crypto provider for the process (the AWS SDK's): the WebSocket client's rustls
    // would otherwise have to pick one. Err only when one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let options = TelemetryOptions {
        log_target: LogTarget::Terminal,
        default_level: "warn",
        collect_spans: matches!(&cli.command, Command::Invoke(args) if args.trace_tree),
    };
    let telemetry = match Telemetry::init(options) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("genesys-eventbridge: {}", gev_core::error_chain(&error));
            std::process::exit(cli::exit::BAD_INPUT);
        }
    };
    let code = match cli.command {
        Command::Invoke(args) => cli::invoke::run(args, &telemetry).await,
        Command::Configure(args) => cli::configure::run(args).await,
        Command::Publish(args) => cli::publish::run(args).await,
        Command::Stream(args) => cli::stream::run(args).await,
        Command::Bridge(args) => cli::bridge::run(args).await,
        Command::Reconcile(args) => cli::reconcile::run(args).await,
        Command::Doctor(args) => cli::doctor::run(args).await,
        Command::Redrive(args) => cli::redrive::run(args).await,
        Command::Replay(args) => cli::replay::run(args).await,
    };
    telemetry.shutdown();
    std::process::exit(code);
}
