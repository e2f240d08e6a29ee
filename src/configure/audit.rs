//! The audit log of configure: one JSON line per write Genesys accepted (or may have), each carrying the SHA-256 of the line before (a hash chain anyone can verify), appended under an exclusive lock; its head (the SHA-256 of the last line) is what anchors it outside the file.
//!
//! The hash is not keyed: the chain shows a line edited, removed or inserted before the last
//! one; only a head kept elsewhere (the SNS record of each change, `configure status`) shows the
//! last lines removed or edited, or the whole file rewritten.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The `prev` of the first line, and the head of an empty log.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One write (or set of writes) Genesys accepted, as the audit log records it. Never a token or
/// a secret: `who` is the OAuth client's id.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// The OAuth client id that made the change.
    pub who: &'a str,
    /// The integration.
    pub integration_id: &'a str,
    /// `create`, `update`, or `activation` (what became of an applied change afterwards).
    pub action: &'a str,
    /// The configuration version before (none when created).
    pub version_before: Option<i64>,
    /// The configuration version after.
    pub version_after: i64,
    /// The plan's changes.
    pub changes: Value,
    /// How it ended: `applied`, `partial: …`, `unknown: …`, `applied, activation failed: ERROR`.
    pub outcome: &'a str,
}

/// A line appended: its text and the log's head after it (the line's SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The line, without its newline.
    pub line: String,
    /// The SHA-256 of the line: the log's head now.
    pub head: String,
}

impl Appended {
    /// The record to publish elsewhere (SNS): the line's fields plus `head`, so that whoever
    /// keeps it can later check the log with `configure audit verify --expect-head`.
    pub fn anchored_record(&self) -> String {
        match self.line.strip_suffix('}') {
            Some(open) => format!("{open},\"head\":\"{}\"}}", self.head),
            None => self.line.clone(),
        }
    }
}

/// A failure to read or write the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, locked, read or written.
    #[error("audit log {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What `verify` found wrong with one line, or with the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// A line does not chain to the complete line before it (edited, removed or inserted).
    Broken {
        /// The line (1-based).
        line: usize,
    },
    /// A line that is not a complete record: the last one without a newline (a write cut short,
    /// e.g. a crash), or one that is not a JSON record with `prev`.
    Partial {
        /// The line (1-based).
        line: usize,
        /// True when it is the file's last, with no newline after it.
        unterminated: bool,
    },
    /// The head is not the one expected (the anchor kept outside the file).
    HeadMismatch {
        /// The head expected.
        expected: String,
        /// The log's head.
        actual: String,
        /// The line whose hash is the expected head, when one is (records were appended after
        /// it); `None` when no line has it (removed, edited, or another log).
        found_at: Option<usize>,
        /// How many lines hold records.
        lines: usize,
    },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditProblem::Broken { line } => write!(
                f,
                "line {line} does not follow from the line before (edited, removed or inserted)"
            ),
            AuditProblem::Partial {
                line,
                unterminated: true,
            } => write!(
                f,
                "line {line}, the last, is cut short (no newline ends it: a write interrupted, \
                 e.g. by a crash); the change it was recording has no complete record"
            ),
            AuditProblem::Partial { line, .. } => write!(
                f,
                "line {line} is not a complete record (a write interrupted, e.g. by a crash, or \
                 an edit); the chain resumes from the complete line before it"
            ),
            AuditProblem::HeadMismatch {
                expected,
                actual,
                found_at: Some(line),
                lines,
            } => write!(
                f,
                "the head is {actual}, not the expected {expected}: the expected head is line \
                 {line}'s, and {} line(s) follow it (compare with the latest anchor)",
                lines.saturating_sub(*line)
            ),
            AuditProblem::HeadMismatch {
                expected, actual, ..
            } => write!(
                f,
                "the head is {actual}, not the expected {expected}, which no line of the log has \
                 (lines removed or edited, the log rewritten, or another log)"
            ),
        }
    }
}

/// What `verify` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Complete records.
    pub records: usize,
    /// The SHA-256 of the last complete record ([`GENESIS`] when there is none).
    pub head: String,
    /// Everything wrong, in file order (the head last); empty: the chain is intact.
    pub problems: Vec<AuditProblem>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The `prev` of a line that is a JSON record with one.
fn prev_of(line: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(line)
        .ok()
        .and_then(|value| value.get("prev").and_then(Value::as_str).map(str::to_owned))
}

/// The log's lines as `verify` reads them: (1-based number, text, ends with a newline).
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let mut rest = text;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        match rest.iter().position(|byte| *byte == b'\n') {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                Some((number, line, true))
            }
            None => {
                let line = rest;
                rest = &[];
                Some((number, line, false))
            }
        }
    })
}

/// Checks the chain of `text` and, with `expect_head`, its head.
fn check(text: &[u8], expect_head: Option<&str>) -> Verified {
    let mut head = GENESIS.to_owned();
    let mut hashes: Vec<(usize, String)> = Vec::new();
    let mut problems = Vec::new();
    let mut last_line = 0;
    for (number, line, terminated) in lines(text) {
        last_line = number;
        let Some(prev) = prev_of(line).filter(|_| terminated) else {
            problems.push(AuditProblem::Partial {
                line: number,
                unterminated: !terminated,
            });
            continue;
        };
        if prev != head {
            problems.push(AuditProblem::Broken { line: number });
        }
        head = sha256_hex(line);
        hashes.push((number, head.clone()));
    }
    if let Some(expected) = expect_head.map(str::to_ascii_lowercase)
        && expected != head
    {
        let found_at = hashes
            .iter()
            .find(|(_, hash)| *hash == expected)
            .map(|(line, _)| *line);
        problems.push(AuditProblem::HeadMismatch {
            expected,
            actual: head.clone(),
            found_at,
            lines: last_line,
        });
    }
    Verified {
        records: hashes.len(),
        head,
        problems,
    }
}

/// An audit log opened for appending: it exists (created if need be) and can be locked.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
}

impl AuditLog {
    /// Opens `path` for appending (creating it), and takes and releases its exclusive lock: the
    /// check, before anything is written to Genesys, that the change can be recorded.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let log = AuditLog {
            path: path.to_path_buf(),
            file: std::fs::OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(path)
                .map_err(|source| io(path, source))?,
        };
        log.file.lock().map_err(|source| io(path, source))?;
        log.file.unlock().map_err(|source| io(path, source))?;
        Ok(log)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry`, chained to the last complete line, under the file's exclusive lock
    /// (concurrent appenders take turns and chain to each other). When the file does not end
    /// with a newline (a write cut short), the record starts a line of its own.
    pub fn append(&mut self, entry: &AuditEntry<'_>) -> Result<Appended, AuditError> {
        let path = self.path.clone();
        self.file.lock().map_err(|source| io(&path, source))?;
        let appended = self.append_locked(entry);
        let unlocked = self.file.unlock();
        let appended = appended.map_err(|source| io(&path, source))?;
        unlocked.map_err(|source| io(&path, source))?;
        Ok(appended)
    }

    fn append_locked(&mut self, entry: &AuditEntry<'_>) -> std::io::Result<Appended> {
        let mut text = Vec::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_end(&mut text)?;
        let previous = check(&text, None).head;
        let line = json!({
            "time": entry.time,
            "who": entry.who,
            "integrationId": entry.integration_id,
            "action": entry.action,
            "versionBefore": entry.version_before,
            "versionAfter": entry.version_after,
            "changes": entry.changes,
            "outcome": entry.outcome,
            "prev": previous,
        })
        .to_string();
        let mut bytes = Vec::with_capacity(line.len() + 2);
        if text.last().is_some_and(|last| *last != b'\n') {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.file.sync_data()?;
        Ok(Appended {
            head: sha256_hex(line.as_bytes()),
            line,
        })
    }
}

fn io(path: &Path, source: std::io::Error) -> AuditError {
    AuditError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Appends `entry` to the log at `path` (see [`AuditLog::append`]).
pub fn append(path: &Path, entry: &AuditEntry<'_>) -> Result<Appended, AuditError> {
    AuditLog::open(path)?.append(entry)
}

/// Checks the chain of the log at `path` and, with `expect_head`, that its head is that one (a
/// head kept elsewhere: the last SNS record, or `configure status` as seen before). A missing
/// or unreadable file is an error.
pub fn verify(path: &Path, expect_head: Option<&str>) -> Result<Verified, AuditError> {
    let text = std::fs::read(path).map_err(|source| io(path, source))?;
    Ok(check(&text, expect_head))
}

/// The head of the log at `path` and its problems, as `verify` finds them; `None` when the file
/// does not exist.
pub fn head(path: &Path) -> Result<Option<Verified>, AuditError> {
    match std::fs::read(path) {
        Ok(text) => Ok(Some(check(&text, None))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io(path, error)),
    }
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
            outcome: "applied",
        }
    }

    fn log_path(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("audit-{name}-{}.jsonl", fastrand::u64(..)));
        let _ = std::fs::remove_file(&path);
        path
    }

    fn three_lines(name: &str) -> (PathBuf, Vec<Appended>) {
        let path = log_path(name);
        let appended = (2..5).map(|v| append(&path, &entry(v)).unwrap()).collect();
        (path, appended)
    }

    #[test]
    fn appended_lines_verify_as_a_chain_whose_head_is_the_last_lines_hash() {
        let (path, appended) = three_lines("ok");

        let verified = verify(&path, Some(&appended[2].head)).unwrap();

        assert_eq!(verified.records, 3);
        assert_eq!(verified.head, appended[2].head);
        assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    }

    #[test]
    fn an_edited_line_breaks_the_chain_at_the_line_after_it() {
        let (path, _) = three_lines("tampered");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen("\"versionAfter\":3", "\"versionAfter\":9", 1),
        )
        .unwrap();

        let verified = verify(&path, None).unwrap();

        assert_eq!(verified.problems, vec![AuditProblem::Broken { line: 3 }]);
    }

    #[test]
    fn a_removed_last_line_is_found_only_against_the_expected_head() {
        let (path, appended) = three_lines("truncated");
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: String = text
            .lines()
            .take(2)
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(&path, kept).unwrap();

        let alone = verify(&path, None).unwrap();
        let anchored = verify(&path, Some(&appended[2].head)).unwrap();

        assert!(alone.problems.is_empty());
        assert_eq!(
            anchored.problems,
            vec![AuditProblem::HeadMismatch {
                expected: appended[2].head.clone(),
                actual: appended[1].head.clone(),
                found_at: None,
                lines: 2,
            }]
        );
    }

    #[test]
    fn an_older_anchor_names_the_line_it_is_and_how_many_follow() {
        let (path, appended) = three_lines("older");

        let verified = verify(&path, Some(&appended[0].head)).unwrap();

        assert!(
            matches!(
                verified.problems.as_slice(),
                [AuditProblem::HeadMismatch {
                    found_at: Some(1),
                    lines: 3,
                    ..
                }]
            ),
            "{:?}",
            verified.problems
        );
    }

    #[test]
    fn a_line_cut_short_is_reported_and_the_next_append_starts_a_new_line() {
        let (path, appended) = three_lines("partial");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"{\"time\":\"2026-").unwrap();

        let cut = verify(&path, None).unwrap();
        let next = append(&path, &entry(5)).unwrap();
        let after = verify(&path, Some(&next.head)).unwrap();

        assert_eq!(
            cut.problems,
            vec![AuditProblem::Partial {
                line: 4,
                unterminated: true
            }]
        );
        assert!(
            next.line
                .contains(&format!("\"prev\":\"{}\"", appended[2].head))
        );
        assert_eq!(after.records, 4);
        assert_eq!(
            after.problems,
            vec![AuditProblem::Partial {
                line: 4,
                unterminated: false
            }]
        );
    }

    #[test]
    fn concurrent_appenders_take_turns_and_chain_to_each_other() {
        let path = log_path("concurrent");
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for version in 0..10 {
                        append(&path, &entry(writer * 100 + version)).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }

        let verified = verify(&path, None).unwrap();

        assert_eq!(verified.records, 80);
        assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    }

    #[test]
    fn the_anchored_record_is_the_line_with_its_head() {
        let path = log_path("anchored");
        let appended = append(&path, &entry(2)).unwrap();

        let record: Value = serde_json::from_str(&appended.anchored_record()).unwrap();

        assert_eq!(record["head"], json!(appended.head));
        assert_eq!(record["versionAfter"], json!(2));
        assert_eq!(appended.head, sha256_hex(appended.line.as_bytes()));
    }
}
