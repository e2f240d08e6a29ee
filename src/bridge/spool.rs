//! The bridge's spool: entries the bus would not take, appended to files in a directory (fsync per batch), replayed oldest first, each file deleted only once all its entries are on the bus.

use crate::publish::Entry;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One spooled entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spooled {
    source: String,
    detail_type: String,
    detail: String,
    time: Option<String>,
    bridge_event_id: String,
}

/// A spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    next: u64,
}

impl Spool {
    /// The spool in `dir` (created if missing); new files are numbered after the existing ones.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut spool = Spool {
            dir: dir.to_owned(),
            next: 0,
        };
        spool.next = spool
            .files()?
            .last()
            .and_then(|file| number(file))
            .map_or(0, |n| n + 1);
        Ok(spool)
    }

    /// Appends `entries` as one new file, flushed to disk before it returns.
    pub fn append(&mut self, entries: &[Entry]) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(format!("spool-{:012}.jsonl", self.next));
        self.next += 1;
        write_file(&path, entries)
    }

    /// Replaces spool file `file` with only `entries` (those still to send).
    pub fn rewrite(file: &Path, entries: &[Entry]) -> std::io::Result<()> {
        write_file(file, entries)
    }

    /// The spool files, oldest first.
    pub fn files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| number(path).is_some())
            .collect();
        files.sort();
        Ok(files)
    }

    /// The entries of one spool file.
    pub fn read(file: &Path) -> std::io::Result<Vec<Entry>> {
        let text = std::fs::read_to_string(file)?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let spooled: Spooled = serde_json::from_str(line).map_err(std::io::Error::other)?;
                Ok(Entry {
                    source: spooled.source,
                    detail_type: spooled.detail_type,
                    detail: spooled.detail,
                    time: spooled.time,
                    bridge_event_id: spooled.bridge_event_id,
                })
            })
            .collect()
    }

    /// The entries of one spool file that can be read, and its lines that cannot.
    pub fn read_lenient(file: &Path) -> std::io::Result<(Vec<Entry>, Vec<String>)> {
        let text = String::from_utf8_lossy(&std::fs::read(file)?).into_owned();
        let mut entries = Vec::new();
        let mut bad = Vec::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            match serde_json::from_str::<Spooled>(line) {
                Ok(spooled) => entries.push(Entry {
                    source: spooled.source,
                    detail_type: spooled.detail_type,
                    detail: spooled.detail,
                    time: spooled.time,
                    bridge_event_id: spooled.bridge_event_id,
                }),
                Err(_) => bad.push(line.to_owned()),
            }
        }
        Ok((entries, bad))
    }

    /// Moves the `bad` lines of `file` to `<file>.bad` (appended) and leaves `file` with
    /// `entries` only; returns the quarantine's path.
    pub fn quarantine(file: &Path, entries: &[Entry], bad: &[String]) -> std::io::Result<PathBuf> {
        let moved = file.with_extension("jsonl.bad");
        let mut quarantine = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&moved)?;
        for line in bad {
            quarantine.write_all(line.as_bytes())?;
            quarantine.write_all(b"\n")?;
        }
        quarantine.sync_all()?;
        write_file(file, entries)?;
        Ok(moved)
    }

    /// How many entries wait in the spool.
    pub fn depth(&self) -> usize {
        self.files()
            .unwrap_or_default()
            .iter()
            .filter_map(|file| std::fs::read_to_string(file).ok())
            .map(|text| text.lines().count())
            .sum()
    }
}

/// Writes `entries` to `path` atomically: a temporary file, synced, then renamed.
fn write_file(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    for entry in entries {
        let line = Spooled {
            source: entry.source.clone(),
            detail_type: entry.detail_type.clone(),
            detail: entry.detail.clone(),
            time: entry.time.clone(),
            bridge_event_id: entry.bridge_event_id.clone(),
        };
        serde_json::to_writer(&mut file, &line)?;
        file.write_all(b"\n")?;
    }
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// The number of a spool file's name (`spool-{n}.jsonl`).
fn number(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("spool-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry {
            source: "s".into(),
            detail_type: "d".into(),
            detail: "{}".into(),
            time: None,
            bridge_event_id: id.into(),
        }
    }

    #[test]
    fn spooled_batches_come_back_oldest_first_and_a_reopened_spool_keeps_counting() {
        let dir = std::env::temp_dir().join(format!("spool-{:x}", fastrand::u64(..)));
        let mut spool = Spool::open(&dir).unwrap();
        spool.append(&[entry("a"), entry("b")]).unwrap();
        spool.append(&[entry("c")]).unwrap();

        let mut reopened = Spool::open(&dir).unwrap();
        reopened.append(&[entry("d")]).unwrap();

        let ids: Vec<String> = reopened
            .files()
            .unwrap()
            .iter()
            .flat_map(|file| Spool::read(file).unwrap())
            .map(|e| e.bridge_event_id)
            .collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert_eq!(reopened.depth(), 4);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
