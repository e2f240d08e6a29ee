//! The operator CLI's commands, one module each (arguments, wiring, printing, the exit code decided in one `exit_code` per command), as library code the `genesys-eventbridge` binary dispatches to; what they share: settings errors, bounded durations, the termination signal, the best-effort writer.

pub mod bridge;
pub mod configure;
pub mod doctor;
pub mod invoke;
pub mod publish;
pub mod reconcile;
pub mod redrive;
pub mod replay;
pub mod stream;

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// The exit statuses every command keeps (DESIGN.md).
pub mod exit {
    /// Done.
    pub const SUCCESS: i32 = 0;
    /// A remote failure outlived its retries.
    pub const REMOTE_FAILURE: i32 = 1;
    /// Bad settings, arguments or input.
    pub const BAD_INPUT: i32 = 2;
    /// A conflict, or rejected input the user must look at.
    pub const REJECTED: i32 = 3;
    /// `configure plan --exit-code` with changes pending.
    pub const CHANGES_PENDING: i32 = 4;
}

/// A setting, flag or file a command cannot start with: one line naming it, printed as
/// `genesys-eventbridge: …` ([`SettingsError::print`]); exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A Genesys or consumer setting of the environment.
    #[error(transparent)]
    Environment(#[from] gev_consumer::config::ConfigError),
    /// The Genesys client (or the consumer) could not be built from the settings.
    #[error(transparent)]
    Client(#[from] gev_consumer::app::WiringError),
    /// A number of seconds outside its flag's range.
    #[error("{flag}: {value} is not within {min} to {max} seconds")]
    Seconds {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: f64,
        /// The least it takes.
        min: f64,
        /// The most it takes.
        max: f64,
    },
    /// `--max-entry-bytes` outside 1 to the ceiling AWS allows anywhere.
    #[error(
        "--max-entry-bytes: {0} is not within 1 to {ceiling}",
        ceiling = crate::publish::MAX_ENTRY_BYTES_CEILING
    )]
    MaxEntryBytes(usize),
    /// An events file that cannot be read or parsed.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// A `--source` EventBridge would refuse.
    #[error("--source")]
    Source(#[source] crate::publish::SourceError),
    /// A file a flag names cannot be read or opened.
    #[error("{flag} {}", path.display())]
    File {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl SettingsError {
    /// Prints the error on `err`, as one line with its causes.
    pub fn print(&self, err: &mut dyn Write) {
        say_unstarted(err, self);
    }
}

/// Writes one line on `err`, ignoring a failure: what a command says on stderr (progress,
/// warnings, its summary and its error) is best effort. A closed or full stderr must neither
/// stop a stream that is still delivering nor change an exit code that reports the work; the
/// outputs a command exists to produce are written with their errors checked (or, where that
/// output is a report beside work already done, ignored in its printer, which says why).
pub fn say(err: &mut dyn Write, line: fmt::Arguments<'_>) {
    let _ = writeln!(err, "{line}");
}

/// Says `error` and its causes on `err` under the tool's name alone: `genesys-eventbridge: …`,
/// for what stops a command before it starts (a setting, a flag, a file); best effort, as
/// [`say`].
pub fn say_unstarted(err: &mut dyn Write, error: &(dyn std::error::Error + 'static)) {
    say(
        err,
        format_args!("genesys-eventbridge: {}", gev_core::error_chain(error)),
    );
}

/// Says `error` and its causes on `err` under the command's name:
/// `genesys-eventbridge {command}: …`; best effort, as [`say`].
pub fn say_error(err: &mut dyn Write, command: &str, error: &(dyn std::error::Error + 'static)) {
    say(
        err,
        format_args!(
            "genesys-eventbridge {command}: {}",
            gev_core::error_chain(error)
        ),
    );
}

/// Writes `text` on `err` without ending the line, and flushes it (a progress bar, a prompt);
/// best effort, as [`say`].
pub fn show(err: &mut dyn Write, text: fmt::Arguments<'_>) {
    let _ = err.write_fmt(text);
    let _ = err.flush();
}

/// Where stream and bridge print their progress: their product (notifications, outcome lines,
/// gap records) on `out`, the rest on `err` under the command's name.
pub(crate) struct Printer<'a> {
    /// The command's name in the lines it says.
    pub(crate) command: &'static str,
    /// The product.
    pub(crate) out: &'a mut (dyn Write + Send),
    /// The rest.
    pub(crate) err: &'a mut (dyn Write + Send),
}

impl crate::stream::ShardProgress for Printer<'_> {
    fn shard_stopped(&mut self, shard: usize, since: chrono::DateTime<chrono::Utc>, reason: &str) {
        let since = crate::stream::records::rfc3339(since);
        say(
            self.err,
            format_args!(
                "genesys-eventbridge {}: shard {shard}: not listening since {since}: {reason}",
                self.command
            ),
        );
    }

    fn shard_failed(&mut self, shard: usize, error: &crate::stream::session::SessionError) {
        say(
            self.err,
            format_args!(
                "genesys-eventbridge {}: shard {shard}: {} (retrying)",
                self.command,
                gev_core::error_chain(error)
            ),
        );
    }

    fn retrying(&mut self, error: &gev_genesys::GenesysError) {
        say(
            self.err,
            format_args!(
                "genesys-eventbridge {}: {} (retrying)",
                self.command,
                gev_core::error_chain(error)
            ),
        );
    }

    fn checkpoint_not_saved(&mut self, error: &crate::stream::checkpoint::CheckpointError) {
        say_error(self.err, self.command, error);
    }
}

/// A `--from` or `--to` that is not an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 time such as 2026-12-06T10:00:00Z")]
pub struct NotATime(String);

/// An RFC 3339 time given on the command line (`--from`, `--to`), in UTC.
pub fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, NotATime> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.to_utc())
        .map_err(|_| NotATime(text.to_owned()))
}

/// Where a command that publishes onto `bus` sends: EventBridge, or nowhere for a dry run,
/// which then needs no AWS settings (nor a region lookup).
pub(crate) async fn bus_sink(bus: &str, dry_run: bool) -> Box<dyn crate::publish::EventSink> {
    if dry_run {
        Box::new(crate::publish::NothingSent)
    } else {
        Box::new(crate::publish::BusSink::new(
            crate::eventbridge::sdk::client_for_bus(bus).await,
            bus,
        ))
    }
}

/// The range of `--heartbeat-seconds` (Genesys beats every 30 s).
pub const HEARTBEAT: (f64, f64) = (0.1, 3_600.0);

/// `value` seconds, refused outside `range` (a timer past it overflows, one below it spins).
pub fn bounded_seconds(
    value: f64,
    flag: &'static str,
    (min, max): (f64, f64),
) -> Result<Duration, SettingsError> {
    if !(min..=max).contains(&value) {
        return Err(SettingsError::Seconds {
            flag,
            value,
            min,
            max,
        });
    }
    Ok(Duration::from_secs_f64(value))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
