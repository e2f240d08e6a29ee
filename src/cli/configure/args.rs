//! `configure`'s command line: its subcommands and their flags (their docs are the `--help` text).

use std::path::PathBuf;

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
