//! `genesys-eventbridge replay`: its arguments, EventBridge wired to the replay use case, what was started (or found) and, with `--wait`, each change of the replay on stdout until it ends; errors once, as a chain, on stderr; the exit code decided in one place ([`exit_code`]).

use super::{parse_time, say};
use crate::replay::{
    self, Followed, ReplayError, ReplayOptions, ReplayState, ReplayStatus, Replays, SdkReplays,
    StartError, StartReport, Started, Watch,
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
pub const EXIT_OK: i32 = super::exit::SUCCESS;
/// Exit status: the replay failed, the wait timed out, or EventBridge could not be reached.
pub const EXIT_FAILED: i32 = super::exit::REMOTE_FAILURE;
/// Exit status: bad arguments, an unknown archive, a request EventBridge refuses.
pub const EXIT_SETTINGS: i32 = super::exit::BAD_INPUT;
/// Exit status: the replay was cancelled (by someone else): look at why.
pub const EXIT_CANCELLED: i32 = super::exit::REJECTED;

/// An argument replay cannot run with: one line naming the flag, exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum ArgumentError {
    /// `--from` is not before `--to`.
    #[error("--from {} is not before --to {}", from.to_rfc3339(), to.to_rfc3339())]
    EmptyWindow {
        /// `--from`.
        from: DateTime<Utc>,
        /// `--to`.
        to: DateTime<Utc>,
    },
    /// A `--name` EventBridge would refuse.
    #[error("--name")]
    Name(#[source] replay::BadName),
    /// A `--bus` that is not an event bus ARN.
    #[error("--bus: {0:?} is not an event bus ARN")]
    Bus(String),
    /// A `--rule` that is not a rule ARN.
    #[error("--rule: {0:?} is not a rule ARN")]
    Rule(String),
    /// `--poll-seconds` out of its range.
    #[error("--poll-seconds: {0} is not within 0.05 to 300")]
    PollSeconds(f64),
}

/// Why a run did not get to its end; printed once, as a chain.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad arguments.
    #[error(transparent)]
    Arguments(#[from] ArgumentError),
    /// The replay could not be started (or found).
    #[error(transparent)]
    Start(#[from] StartError),
    /// It was started, but could not be looked at.
    #[error(transparent)]
    Follow(#[from] ReplayError),
}

/// What a run did.
#[derive(Debug)]
pub enum Ran {
    /// Started, not followed.
    Started,
    /// Found started before and, without `--wait`, looked at once.
    LookedAt {
        /// The replay's name.
        name: String,
        /// What it was.
        followed: Followed,
    },
    /// Followed (`--wait`) to its end or to `--timeout-seconds`.
    Followed {
        /// The replay's name.
        name: String,
        /// How following it ended.
        followed: Followed,
    },
}

/// Runs `replay` against AWS: what it does on stdout, failures and warnings once on stderr;
/// returns the exit code.
pub async fn run(args: Args) -> i32 {
    let mut out = std::io::stdout().lock();
    let result = match check(&args) {
        Ok(()) => {
            let mut arns = vec![args.archive.as_str()];
            arns.extend(args.bus.as_deref());
            let replays = SdkReplays::new(&arns).await;
            replay(&args, &replays, &mut out).await
        }
        Err(error) => Err(error.into()),
    };
    let mut err = std::io::stderr().lock();
    match &result {
        Ok(ran) => {
            if let Some(warning) = warning(ran, args.timeout_seconds) {
                say(
                    &mut err,
                    format_args!("genesys-eventbridge replay: {warning}"),
                );
            }
        }
        Err(failure) => super::say_error(&mut err, "replay", failure),
    }
    exit_code(&result)
}

/// The arguments replay cannot run without.
pub fn check(args: &Args) -> Result<(), ArgumentError> {
    if args.from >= args.to {
        return Err(ArgumentError::EmptyWindow {
            from: args.from,
            to: args.to,
        });
    }
    if let Some(name) = &args.name {
        replay::check_name(name).map_err(ArgumentError::Name)?;
    }
    if let Some(bus) = args.bus.as_deref().filter(|bus| !is_arn(bus, "event-bus/")) {
        return Err(ArgumentError::Bus(bus.to_owned()));
    }
    if let Some(rule) = args.rules.iter().find(|rule| !is_arn(rule, "rule/")) {
        return Err(ArgumentError::Rule(rule.clone()));
    }
    if !(0.05..=300.0).contains(&args.poll_seconds) {
        return Err(ArgumentError::PollSeconds(args.poll_seconds));
    }
    Ok(())
}

/// `arn:{partition}:events:{region}:{account}:{kind}…`.
fn is_arn(text: &str, kind: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && parts[2] == "events" && parts[5].starts_with(kind)
}

/// Starts (or finds) the replay `args` describe through `replays` and, with `--wait`, follows
/// it, writing what it started and each change on `out` (ignored if `out` is closed: the
/// replay runs in EventBridge either way).
pub async fn replay(
    args: &Args,
    replays: &dyn Replays,
    out: &mut dyn Write,
) -> Result<Ran, Failure> {
    let options = ReplayOptions {
        archive: args.archive.clone(),
        from: args.from,
        to: args.to,
        rules: args.rules.clone(),
        bus: args.bus.clone(),
        name: args.name.clone(),
    };
    let started = replay::start(replays, &options).await?;
    let request = &started.request;
    say(out, format_args!("{}", started_line(&started)));
    let exists = started.started == Started::Exists;
    if !args.wait && !exists {
        say(
            out,
            format_args!(
                "follow it with: aws events describe-replay --replay-name {}",
                request.name
            ),
        );
        return Ok(Ran::Started);
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
    let followed = replay::follow(replays, &request.name, follow, &mut lines).await?;
    let name = request.name.clone();
    Ok(if args.wait {
        Ran::Followed { name, followed }
    } else {
        Ran::LookedAt { name, followed }
    })
}

/// `replay NAME started (STATE): FROM to TO of ARCHIVE (N events archived) onto BUS, for RULES`.
fn started_line(started: &StartReport) -> String {
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
    format!(
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
    )
}

/// What to tell the user beside the exit code: a replay found that did not complete, one still
/// running when the wait ended.
fn warning(ran: &Ran, timeout_seconds: u64) -> Option<String> {
    match ran {
        Ran::LookedAt {
            name,
            followed: Followed::Ended(status),
        } if status.state != ReplayState::Completed => Some(format!(
            "{name} ended {}: replay the window again under another --name",
            status.state.name()
        )),
        Ran::Followed {
            name,
            followed: Followed::TimedOut(status),
        } => Some(format!(
            "{name} still {} after {timeout_seconds} s (--timeout-seconds); it goes on without us",
            status.state.name()
        )),
        _ => None,
    }
}

/// The exit code of a run: a replay started, found still running, or completed is success;
/// cancelled is for a person to look at; failed, or still running when `--wait` gave up, is a
/// failure; a call that failed is a failure if a retry may help, else a settings problem.
pub fn exit_code(result: &Result<Ran, Failure>) -> i32 {
    let by_state = |followed: &Followed| match followed {
        Followed::Ended(status) => match status.state {
            ReplayState::Completed => EXIT_OK,
            ReplayState::Cancelled => EXIT_CANCELLED,
            _ => EXIT_FAILED,
        },
        Followed::TimedOut(_) => EXIT_FAILED,
    };
    let retry_helps = |retryable: bool| {
        if retryable {
            EXIT_FAILED
        } else {
            EXIT_SETTINGS
        }
    };
    match result {
        Ok(Ran::Started) => EXIT_OK,
        Ok(Ran::LookedAt {
            followed: Followed::TimedOut(_),
            ..
        }) => EXIT_OK,
        Ok(Ran::LookedAt { followed, .. } | Ran::Followed { followed, .. }) => by_state(followed),
        Err(Failure::Arguments(_)) => EXIT_SETTINGS,
        Err(Failure::Start(error)) => retry_helps(error.is_retryable()),
        Err(Failure::Follow(error)) => retry_helps(error.is_retryable()),
    }
}

/// One line per change of the followed replay.
struct Lines<'a> {
    out: &'a mut dyn Write,
    name: &'a str,
}

impl Watch for Lines<'_> {
    fn status(&mut self, status: &ReplayStatus, elapsed: Duration) {
        say(
            self.out,
            format_args!("{}", status_line(self.name, status, elapsed)),
        );
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
            assert!(
                check(&bad).unwrap_err().to_string().starts_with(flag),
                "{flag}"
            );
        }
        assert!(parse_time("yesterday").is_err());
    }

    fn status(state: &str) -> ReplayStatus {
        ReplayStatus {
            state: ReplayState::from_name(state),
            reason: None,
            last_replayed: None,
        }
    }

    fn waited(followed: Followed) -> Result<Ran, Failure> {
        Ok(Ran::Followed {
            name: "r".into(),
            followed,
        })
    }

    #[test]
    fn completed_is_success_cancelled_is_for_a_person_and_failed_or_timed_out_is_a_failure() {
        let ended = |state: &str| waited(Followed::Ended(status(state)));

        assert_eq!(exit_code(&ended("COMPLETED")), EXIT_OK);
        assert_eq!(exit_code(&ended("CANCELLED")), EXIT_CANCELLED);
        assert_eq!(exit_code(&ended("FAILED")), EXIT_FAILED);
        assert_eq!(
            exit_code(&waited(Followed::TimedOut(status("RUNNING")))),
            EXIT_FAILED
        );
    }

    #[test]
    fn a_replay_found_running_without_wait_passes_but_one_found_failed_does_not() {
        let looked_at = |followed| {
            Ok(Ran::LookedAt {
                name: "r".into(),
                followed,
            })
        };
        let found_failed = looked_at(Followed::Ended(status("FAILED")));

        assert_eq!(
            exit_code(&looked_at(Followed::TimedOut(status("RUNNING")))),
            EXIT_OK
        );
        assert_eq!(exit_code(&found_failed), EXIT_FAILED);
        assert!(
            warning(found_failed.as_ref().unwrap(), 60)
                .unwrap()
                .starts_with("r ended FAILED: replay the window again")
        );
    }

    #[test]
    fn bad_arguments_exit_2_and_say_the_flag() {
        let bad_poll = Args {
            poll_seconds: 0.0,
            ..args()
        };
        let failure = Failure::from(check(&bad_poll).unwrap_err());

        assert_eq!(
            failure.to_string(),
            "--poll-seconds: 0 is not within 0.05 to 300"
        );
        assert_eq!(exit_code(&Err(failure)), EXIT_SETTINGS);
    }
}
