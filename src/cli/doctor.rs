//! `genesys-eventbridge doctor`: the consumer's settings (its environment) checked against Genesys before go-live, one line per check, and its exit code (decided in `exit_code`).

use super::SettingsError;
use gev_consumer::app;
use gev_consumer::config::{Config, GenesysAccess};
use gev_consumer::doctor::Finding;
use std::io::Write;
use std::time::Duration;

/// The time each check's requests get.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Check the consumer's settings (its environment) against Genesys before go-live: the
/// token, the policy's queues and codes, the default code on every queue it can reach, the
/// read permissions. One line per check; exit 0 all hold, 3 a check failed, 2 bad settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

/// Why the command did not finish.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The consumer's settings.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The findings could not be written.
    #[error(transparent)]
    Output(std::io::Error),
}

/// The exit code of a run: 0 every check holds, 3 one failed, 2 bad settings (or findings that
/// could not be written).
fn exit_code(result: &Result<Vec<Finding>, Failure>) -> i32 {
    use super::exit::{BAD_INPUT, REJECTED, SUCCESS};
    match result {
        Ok(findings) if findings.iter().all(|finding| finding.ok) => SUCCESS,
        Ok(_) => REJECTED,
        Err(Failure::Settings(_) | Failure::Output(_)) => BAD_INPUT,
    }
}

/// Runs `doctor` with the consumer's settings from the environment: one line per check on
/// stdout, the error on stderr; returns the exit code.
pub async fn run(_: Args) -> i32 {
    let result = check_and_print(&mut std::io::stdout().lock()).await;
    if let Err(failure) = &result {
        super::say_unstarted(&mut std::io::stderr(), failure);
    }
    exit_code(&result)
}

async fn check_and_print(out: &mut dyn Write) -> Result<Vec<Finding>, Failure> {
    let config = Config::from_env().map_err(SettingsError::from)?;
    let access = GenesysAccess {
        endpoints: config.endpoints.clone(),
        credentials: config.credentials.clone(),
    };
    let client = app::genesys_client(&access)
        .await
        .map_err(SettingsError::from)?;
    let policy = config.pipeline.effective_policy();
    let findings = gev_consumer::doctor::check(&client, &policy, CHECK_TIMEOUT).await;
    for finding in &findings {
        let mark = if finding.ok { "ok  " } else { "FAIL" };
        writeln!(out, "{mark} {}: {}", finding.subject, finding.detail).map_err(Failure::Output)?;
    }
    Ok(findings)
}
