//! `genesys-eventbridge replay`: its arguments, EventBridge wired to the replay use case, what was started (or found) and, with `--wait`, each change of the replay on stdout until it ends; errors once, as a chain, on stderr; the exit code decided in one place ([`exit_code`]).

use crate::replay::{
    self, Followed, ReplayOptions, ReplayState, ReplayStatus, Replays, SdkReplays, StartError,
    Started, Watch,
};
use chrono::{DateTime, Utc};
use std::io::Write;
use std::time::Duration;

/// `replay`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The archive, by name or ARN (the template's outputs ArchiveName, ArchiveArn).
    #[arg(long, value_name = "NAME_OR_ARN")]
    pub archive: String,
    /// The first event time replayed (RFC 3339, e.g. 2026-11-23T10:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: DateTime<Utc>,
    /// The end of the window (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: DateTime<Utc>,
    /// A rule that gets the replayed events (the consumer's: the template's GenesysEventsRule);
    /// repeat for several. None: every rule on the bus.
    #[arg(long = "rule", value_name = "ARN")]
    pub rules: Vec<String>,
    /// The bus the events go to, by ARN: the archive's own (the default) is the only one
    /// EventBridge takes.
    #[arg(long, value_name = "ARN")]
    pub bus: Option<String>,
    /// Follow the replay until it completes, fails or is cancelled (or --timeout-seconds).
    #[arg(long)]
    pub wait: bool,
    /// The replay's name. Default: the window and a hash of the archive, bus and rules, so the
    /// same replay asked twice is found instead of started again.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// With --wait: how long to follow it.
    #[arg(long, default_value_t = 3_600, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout_seconds: u64,
    /// With --wait: between two looks at it.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub poll_seconds: f64,
}

/// Exit status: started (or found), or with --wait completed.
pub const EXIT_OK: i32 = 0;
/// Exit status: the replay failed, the wait timed out, or EventBridge could not be reached.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: bad arguments, an unknown archive, a request EventBridge refuses.
pub const EXIT_SETTINGS: i32 = 2;
/// Exit status: the replay was cancelled (by someone else): look at why.
pub const EXIT_CANCELLED: i32 = 3;

/// An RFC 3339 time, in UTC.
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.to_utc())
        .map_err(|_| format!("{text:?} is not an RFC 3339 time such as 2026-11-23T10:00:00Z"))
}

/// Runs `replay` against AWS; returns the exit code.
pub async fn run(args: Args) -> i32 {
    let mut err = std::io::stderr().lock();
    if let Err(problem) = check(&args) {
        let _ = writeln!(err, "genesys-eventbridge replay: {problem}");
        return EXIT_SETTINGS;
    }
    let mut arns = vec![args.archive.as_str()];
    arns.extend(args.bus.as_deref());
    let replays = SdkReplays::new(&arns).await;
    let mut out = std::io::stdout().lock();
    replay(&args, &replays, &mut out, &mut err).await
}

/// The arguments replay cannot run without.
pub fn check(args: &Args) -> Result<(), String> {
    if args.from >= args.to {
        return Err(format!(
            "--from {} is not before --to {}",
            args.from.to_rfc3339(),
            args.to.to_rfc3339()
        ));
    }
    if let Some(name) = &args.name {
        replay::check_name(name).map_err(|problem| format!("--name: {problem}"))?;
    }
    if let Some(bus) = args.bus.as_deref().filter(|bus| !is_arn(bus, "event-bus/")) {
        return Err(format!("--bus: {bus:?} is not an event bus ARN"));
    }
    if let Some(rule) = args.rules.iter().find(|rule| !is_arn(rule, "rule/")) {
        return Err(format!("--rule: {rule:?} is not a rule ARN"));
    }
    if !(0.05..=300.0).contains(&args.poll_seconds) {
        return Err(format!(
            "--poll-seconds: {} is not within 0.05 to 300",
            args.poll_seconds
        ));
    }
    Ok(())
}

/// `arn:{partition}:events:{region}:{account}:{kind}…`.
fn is_arn(text: &str, kind: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && parts[2] == "events" && parts[5].starts_with(kind)
}

/// Starts (or finds) the replay `args` describe through `replays` and, with `--wait`, follows
/// it; what it does on `out`, failures on `err`; the exit code.
pub async fn replay(
    args: &Args,
    replays: &dyn Replays,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let options = ReplayOptions {
        archive: args.archive.clone(),
        from: args.from,
        to: args.to,
        rules: args.rules.clone(),
        bus: args.bus.clone(),
        name: args.name.clone(),
    };
    let started = match replay::start(replays, &options).await {
        Ok(started) => started,
        Err(error) => {
            let _ = writeln!(
                err,
                "genesys-eventbridge replay: {}",
                gev_core::error_chain(&error)
            );
            return start_failure_code(&error);
        }
    };
    let request = &started.request;
    let rules = if request.rules.is_empty() {
        "every rule on the bus".to_owned()
    } else {
        request.rules.join(", ")
    };
    let what = match &started.started {
        Started::New(state) => format!("started ({})", state.name()),
        Started::Exists => "exists already (started before): not started again".to_owned(),
    };
    let _ = writeln!(
        out,
        "replay {} {what}: {} to {} of {} ({} events archived) onto {}, for {rules}",
        request.name,
        request.from.to_rfc3339(),
        request.to.to_rfc3339(),
        request.archive_arn,
        started
            .archive
            .event_count
            .map_or_else(|| "?".to_owned(), |count| count.to_string()),
        request.bus_arn,
    );
    let exists = started.started == Started::Exists;
    if !args.wait && !exists {
        let _ = writeln!(
            out,
            "follow it with: aws events describe-replay --replay-name {}",
            request.name
        );
        return EXIT_OK;
    }
    // A replay that exists already is looked at once without --wait: one that failed or was
    // cancelled must not pass for the window replayed.
    let follow = replay::Follow {
        interval: Duration::from_secs_f64(args.poll_seconds),
        timeout: if args.wait {
            Duration::from_secs(args.timeout_seconds)
        } else {
            Duration::ZERO
        },
    };
    let mut lines = Lines {
        out,
        name: &request.name,
    };
    match replay::follow(replays, &request.name, follow, &mut lines).await {
        Ok(followed) if exists && !args.wait => {
            if let Followed::Ended(status) = &followed
                && status.state != ReplayState::Completed
            {
                let _ = writeln!(
                    err,
                    "genesys-eventbridge replay: {} ended {}: replay the window again under another --name",
                    request.name,
                    status.state.name()
                );
            }
            match followed {
                Followed::TimedOut(_) => EXIT_OK,
                ended => exit_code(&ended),
            }
        }
        Ok(followed) => {
            if let Followed::TimedOut(status) = &followed {
                let _ = writeln!(
                    err,
                    "genesys-eventbridge replay: {} still {} after {} s (--timeout-seconds); it goes on without us",
                    request.name,
                    status.state.name(),
                    args.timeout_seconds
                );
            }
            exit_code(&followed)
        }
        Err(error) => {
            let _ = writeln!(
                err,
                "genesys-eventbridge replay: {}",
                gev_core::error_chain(&error)
            );
            if error.is_retryable() {
                EXIT_FAILED
            } else {
                EXIT_SETTINGS
            }
        }
    }
}

/// The exit code of a replay followed to its end (or to the timeout).
pub fn exit_code(followed: &Followed) -> i32 {
    match followed {
        Followed::Ended(status) => match status.state {
            ReplayState::Completed => EXIT_OK,
            ReplayState::Cancelled => EXIT_CANCELLED,
            _ => EXIT_FAILED,
        },
        Followed::TimedOut(_) => EXIT_FAILED,
    }
}

/// The exit code when the replay could not be started.
fn start_failure_code(error: &StartError) -> i32 {
    if error.is_retryable() {
        EXIT_FAILED
    } else {
        EXIT_SETTINGS
    }
}

/// One line per change of the followed replay.
struct Lines<'a> {
    out: &'a mut dyn Write,
    name: &'a str,
}

impl Watch for Lines<'_> {
    fn status(&mut self, status: &ReplayStatus, elapsed: Duration) {
        let _ = writeln!(self.out, "{}", status_line(self.name, status, elapsed));
        let _ = self.out.flush();
    }
}

/// `replay NAME: STATE, last event replayed T (reason) after N s`.
pub fn status_line(name: &str, status: &ReplayStatus, elapsed: Duration) -> String {
    let mut line = format!("replay {name}: {}", status.state.name());
    if let Some(time) = status.last_replayed {
        line.push_str(&format!(", last event replayed {}", time.to_rfc3339()));
    }
    if let Some(reason) = &status.reason {
        line.push_str(&format!(" ({reason})"));
    }
    line.push_str(&format!(" after {:.1} s", elapsed.as_secs_f64()));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Args {
        Args {
            archive: "genesys-events".into(),
            from: parse_time("2026-11-23T10:00:00Z").unwrap(),
            to: parse_time("2026-11-23T12:00:00Z").unwrap(),
            rules: vec!["arn:aws:events:eu-west-1:123456789012:rule/genesys".into()],
            bus: None,
            wait: false,
            name: None,
            timeout_seconds: 60,
            poll_seconds: 1.0,
        }
    }

    #[test]
    fn bad_windows_names_and_arns_are_refused_before_any_call() {
        assert!(check(&args()).is_ok());
        let reversed = Args {
            from: args().to,
            ..args()
        };
        let bad_name = Args {
            name: Some("a name".into()),
            ..args()
        };
        let bad_rule = Args {
            rules: vec!["genesys".into()],
            ..args()
        };
        let bad_bus = Args {
            bus: Some("arn:aws:events:eu-west-1:1:rule/x".into()),
            ..args()
        };
        for (bad, flag) in [
            (reversed, "--from"),
            (bad_name, "--name"),
            (bad_rule, "--rule"),
            (bad_bus, "--bus"),
        ] {
            assert!(check(&bad).unwrap_err().starts_with(flag), "{flag}");
        }
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn completed_is_success_cancelled_is_for_a_person_and_failed_or_timed_out_is_a_failure() {
        let ended = |state: &str| {
            Followed::Ended(ReplayStatus {
                state: ReplayState::from_name(state),
                reason: None,
                last_replayed: None,
            })
        };

        assert_eq!(exit_code(&ended("COMPLETED")), EXIT_OK);
        assert_eq!(exit_code(&ended("CANCELLED")), EXIT_CANCELLED);
        assert_eq!(exit_code(&ended("FAILED")), EXIT_FAILED);
        assert_eq!(
            exit_code(&Followed::TimedOut(ReplayStatus {
                state: ReplayState::Running,
                reason: None,
                last_replayed: None,
            })),
            EXIT_FAILED
        );
    }
}
