//! The audit log of configure: one JSON line per applied change, each carrying the SHA-256 of the line before (a hash chain anyone can verify).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};
use std::path::Path;

/// The `prev` of the first line.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One applied change, as the audit log records it. Never a token or a secret: `who` is the
/// OAuth client's id.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// The OAuth client id that made the change.
    pub who: &'a str,
    /// The integration.
    pub integration_id: &'a str,
    /// `create` or `update`.
    pub action: &'a str,
    /// The configuration version before (none when created).
    pub version_before: Option<i64>,
    /// The configuration version after.
    pub version_after: i64,
    /// The plan's changes.
    pub changes: Value,
}

/// A failure to read or write the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be read or written.
    #[error("audit log {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line does not chain to the one before (edited, removed or inserted).
    #[error(
        "audit log {path}: line {line} does not follow from the line before (edited, removed or inserted)"
    )]
    Broken {
        /// The file.
        path: String,
        /// The first line that does not chain (1-based).
        line: usize,
    },
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Appends `entry` to the log at `path`, chained to its last line; returns the line written.
pub fn append(path: &Path, entry: &AuditEntry<'_>) -> Result<String, AuditError> {
    let io = |source| AuditError::Io {
        path: path.display().to_string(),
        source,
    };
    let previous = match std::fs::read_to_string(path) {
        Ok(text) => text.lines().last().map_or(GENESIS.to_owned(), sha256_hex),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => GENESIS.to_owned(),
        Err(error) => return Err(io(error)),
    };
    let line = json!({
        "time": entry.time,
        "who": entry.who,
        "integrationId": entry.integration_id,
        "action": entry.action,
        "versionBefore": entry.version_before,
        "versionAfter": entry.version_after,
        "changes": entry.changes,
        "prev": previous,
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    writeln!(file, "{line}").map_err(io)?;
    Ok(line.to_string())
}

/// Checks the chain of the log at `path`; returns how many lines it holds.
pub fn verify(path: &Path) -> Result<usize, AuditError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| AuditError::Io {
        path: name.clone(),
        source,
    })?;
    let mut expected = GENESIS.to_owned();
    let mut count = 0;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| AuditError::Io {
            path: name.clone(),
            source,
        })?;
        let prev = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|value| value.get("prev").and_then(Value::as_str).map(str::to_owned));
        if prev.as_deref() != Some(expected.as_str()) {
            return Err(AuditError::Broken {
                path: name,
                line: index + 1,
            });
        }
        expected = sha256_hex(&line);
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version_after: i64) -> AuditEntry<'static> {
        AuditEntry {
            time: "2026-11-30T12:00:00Z".into(),
            who: "client-1",
            integration_id: "i-1",
            action: "update",
            version_before: Some(version_after - 1),
            version_after,
            changes: json!([{"field": "notes", "from": "", "to": "x"}]),
        }
    }

    fn log_path(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("audit-{name}-{}.jsonl", fastrand::u64(..)));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn appended_lines_verify_as_a_chain() {
        let path = log_path("ok");
        for version in 2..5 {
            append(&path, &entry(version)).unwrap();
        }

        assert_eq!(verify(&path).unwrap(), 3);
    }

    #[test]
    fn an_edited_line_breaks_the_chain_at_the_line_after_it() {
        let path = log_path("tampered");
        for version in 2..5 {
            append(&path, &entry(version)).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen("\"versionAfter\":3", "\"versionAfter\":9", 1),
        )
        .unwrap();

        let error = verify(&path).unwrap_err();

        assert!(
            matches!(error, AuditError::Broken { line: 3, .. }),
            "{error}"
        );
    }
}
