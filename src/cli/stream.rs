//! `genesys-eventbridge stream`: topics from flags and a file, output to stdout or a file (appended), the stream until a signal or a `--stop-after-*` limit.

use std::io::Write;
use std::path::Path;

/// The topics of `--topic` flags and of a `--topics-file` (one per line; blank lines and `#`
/// comments skipped).
pub fn read_topics(flags: &[String], file: Option<&Path>) -> Result<Vec<String>, String> {
    let mut topics = flags.to_vec();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("--topics-file {}: {error}", path.display()))?;
        topics.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(topics)
}

/// Where notifications go: `-` is stdout, anything else a file appended to (a restart adds to it).
pub fn open_output(path: &str) -> Result<Box<dyn Write + Send>, String> {
    if path == "-" {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout())));
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| format!("--output {path}: {error}"))?;
    Ok(Box::new(std::io::BufWriter::new(file)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_come_from_flags_then_the_file_without_blanks_or_comments() {
        let path = std::env::temp_dir().join(format!("topics-{:x}.txt", fastrand::u64(..)));
        std::fs::write(&path, "# queues\nv2.a.1\n\n  v2.b.2  \n").unwrap();

        let topics = read_topics(&["v2.flag".into()], Some(&path)).unwrap();

        assert_eq!(topics, ["v2.flag", "v2.a.1", "v2.b.2"]);
        std::fs::remove_file(path).unwrap();
    }
}
