//! The bridge's publishing side: entries from a bounded queue onto the bus in requests of up to 10; what the bus will not take goes to the spool (and, while the spool holds anything, new entries queue behind it there), replayed oldest first once the bus takes entries again; what neither takes is held in memory and retried; at the stop, what is queued is spooled without touching the network. Every entry counts as unhandled until it is on the bus, refused for good, or spooled, and the checkpoint never claims a time past the oldest unhandled one.

use super::spool::Spool;
use crate::publish::{Entry, EventSink, Published, SendPolicy, send_all};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long the forwarder waits for more entries before sending what it has.
const LINGER: Duration = Duration::from_millis(20);
/// How often a non-empty spool (or held entries) is tried again while no entries arrive.
const SPOOL_RETRY: Duration = Duration::from_millis(500);
/// The most entries held in memory while neither the bus nor the spool takes them.
const MAX_HELD: usize = 10_000;
/// Without a spool, how long the stop keeps trying to publish what is queued.
pub(super) const STOP_PUBLISH_BUDGET: Duration = Duration::from_secs(20);

/// The last ticket given, and the receive time of each unhandled entry by ticket.
type Tickets = (u64, BTreeMap<u64, DateTime<Utc>>);

/// The receive times of the entries not yet on the bus, refused, or spooled, by ticket.
#[derive(Debug, Clone, Default)]
pub(super) struct Unhandled(Arc<Mutex<Tickets>>);

impl Unhandled {
    /// Counts an entry received at `received_at` as unhandled; its ticket.
    pub(super) fn add(&self, received_at: DateTime<Utc>) -> u64 {
        let mut inner = gev_core::locks::lock(&self.0);
        inner.0 += 1;
        let ticket = inner.0;
        inner.1.insert(ticket, received_at);
        ticket
    }

    /// The entry of `ticket` is handled (on the bus, refused for good, or spooled).
    pub(super) fn done(&self, ticket: u64) {
        gev_core::locks::lock(&self.0).1.remove(&ticket);
    }

    /// When the oldest unhandled entry was received.
    pub(super) fn oldest(&self) -> Option<DateTime<Utc>> {
        gev_core::locks::lock(&self.0).1.values().min().copied()
    }

    /// True while the entry of `ticket` is unhandled.
    pub(super) fn contains(&self, ticket: u64) -> bool {
        gev_core::locks::lock(&self.0).1.contains_key(&ticket)
    }
}

/// An entry on its way, with its ticket in [`Unhandled`].
#[derive(Debug, Clone)]
pub(super) struct Queued {
    /// The entry.
    pub entry: Entry,
    /// Its ticket.
    pub ticket: u64,
    /// Reported `held` already (the spool could not take it).
    pub reported_held: bool,
}

/// The forwarder's parts.
pub(super) struct Forwarder {
    /// The bus.
    pub sink: Arc<dyn EventSink>,
    /// The spool, if any.
    pub spool: Option<Spool>,
    /// Retries of a request before its entries are spooled.
    pub policy: SendPolicy,
    /// One JSON line per entry (published, rejected, spooled, held, failed).
    pub lines: mpsc::UnboundedSender<String>,
    /// The entries not handled yet.
    pub unhandled: Unhandled,
}

impl Forwarder {
    /// Publishes what arrives on `entries` until the queue closes or `stopping` turns true;
    /// then spools (or, without a spool, publishes within [`STOP_PUBLISH_BUDGET`]) what is
    /// queued or held.
    pub(super) async fn run(
        mut self,
        mut entries: mpsc::Receiver<Queued>,
        mut stopping: watch::Receiver<bool>,
    ) {
        let unhandled = self.unhandled.clone();
        let mut held: Vec<Queued> = Vec::new();
        let mut open = true;
        while open && !*stopping.borrow() {
            let mut batch: Vec<Queued> = std::mem::take(&mut held);
            // While too much is held (neither bus nor spool takes entries), take no more: the
            // bounded queue then holds the socket side back, and its gaps show.
            let room = batch.len() < MAX_HELD;
            let waiting = async {
                if room {
                    tokio::time::timeout(SPOOL_RETRY, entries.recv()).await.ok()
                } else {
                    tokio::time::sleep(SPOOL_RETRY).await;
                    None
                }
            };
            tokio::select! {
                waited = waiting => match waited {
                    Some(Some(entry)) => batch.push(entry),
                    Some(None) => open = false,
                    None => {}
                },
                _ = stopping.changed() => {
                    held = batch;
                    break;
                }
            }
            if room && open && !batch.is_empty() {
                open = linger(&mut entries, &mut batch).await;
            }
            let sent = batch.clone();
            tokio::select! {
                left = self.turn(batch) => held = left,
                _ = stopping.changed() => {
                    // Stopped while the bus had not answered: what it did not take for sure
                    // is kept (a second copy on the bus is harmless: ids are deterministic).
                    held = sent.into_iter().filter(|q| unhandled.contains(q.ticket)).collect();
                    break;
                }
            }
        }
        while let Ok(entry) = entries.try_recv() {
            held.push(entry);
        }
        self.stop(held).await;
    }

    /// One turn: `batch` (and, first, the spool) onto the bus; what the bus will not take into
    /// the spool; what cannot be spooled is returned, to be held and tried again.
    async fn turn(&mut self, batch: Vec<Queued>) -> Vec<Queued> {
        let spooled = self
            .spool
            .as_ref()
            .is_some_and(|spool| !spool.files().unwrap_or_default().is_empty());
        if spooled {
            // Keep the order: new entries wait behind the spooled ones.
            let held = self.spool_entries(batch);
            if let Some(spool) = self.spool.as_mut() {
                replay(spool, self.sink.as_ref(), self.policy, &self.lines).await;
            }
            return held;
        }
        if batch.is_empty() {
            return batch;
        }
        let failed = self.send(batch).await;
        if self.spool.is_some() {
            return self.spool_entries(failed);
        }
        // Not on the bus and nowhere to keep it: reported, and left unhandled, so the
        // checkpoint keeps its time and a restart reports (and backfills) it.
        for queued in failed {
            let _ = self.lines.send(line(
                &queued.entry,
                "failed",
                Some("the bus did not take it and no --spool is set"),
                None,
            ));
        }
        Vec::new()
    }

    /// At the stop: `held` into the spool, without the network; without a spool, onto the bus
    /// within [`STOP_PUBLISH_BUDGET`], and what does not make it reported `failed`.
    async fn stop(mut self, held: Vec<Queued>) {
        if held.is_empty() {
            return;
        }
        let left = if self.spool.is_some() {
            self.spool_entries(held)
        } else {
            let sent = held.clone();
            match tokio::time::timeout(STOP_PUBLISH_BUDGET, self.send(held)).await {
                Ok(failed) => failed,
                Err(_) => sent
                    .into_iter()
                    .filter(|q| self.unhandled.contains(q.ticket))
                    .collect(),
            }
        };
        for queued in left {
            let _ = self.lines.send(line(
                &queued.entry,
                "failed",
                Some("not on the bus or in the spool when the bridge stopped"),
                None,
            ));
        }
    }

    /// Sends `batch`; reports the published and rejected entries and returns the failed ones.
    async fn send(&self, batch: Vec<Queued>) -> Vec<Queued> {
        let entries: Vec<Entry> = batch.iter().map(|q| q.entry.clone()).collect();
        let outcome = send_all(self.sink.as_ref(), &entries, self.policy).await;
        let mut failed = Vec::new();
        for (queued, result) in batch.into_iter().zip(outcome.results) {
            match result {
                Published::Published { event_id } => {
                    let _ =
                        self.lines
                            .send(line(&queued.entry, "published", None, Some(&event_id)));
                    self.unhandled.done(queued.ticket);
                }
                Published::Rejected { reason } => {
                    let _ = self
                        .lines
                        .send(line(&queued.entry, "rejected", Some(&reason), None));
                    self.unhandled.done(queued.ticket);
                }
                Published::Failed { .. } => failed.push(queued),
            }
        }
        failed
    }

    /// Appends `batch` to the spool (reported as spooled); when the spool cannot be written
    /// (a full disk), the entries are returned to be held in memory and tried again, reported
    /// `held` once.
    fn spool_entries(&mut self, batch: Vec<Queued>) -> Vec<Queued> {
        let Some(spool) = self.spool.as_mut() else {
            return batch;
        };
        let entries: Vec<Entry> = batch.iter().map(|q| q.entry.clone()).collect();
        match spool.append(&entries) {
            Ok(()) => {
                for queued in &batch {
                    let _ = self.lines.send(line(
                        &queued.entry,
                        "spooled",
                        Some("the bus did not take it yet"),
                        None,
                    ));
                    self.unhandled.done(queued.ticket);
                }
                Vec::new()
            }
            Err(error) => {
                for queued in batch.iter().filter(|q| !q.reported_held) {
                    let reason = format!("cannot spool ({error}): held in memory, tried again");
                    let _ = self
                        .lines
                        .send(line(&queued.entry, "held", Some(&reason), None));
                }
                batch
                    .into_iter()
                    .map(|q| Queued {
                        reported_held: true,
                        ..q
                    })
                    .collect()
            }
        }
    }
}

/// Gathers more entries for `LINGER` (up to 100); false when the queue closed.
async fn linger(entries: &mut mpsc::Receiver<Queued>, batch: &mut Vec<Queued>) -> bool {
    let until = tokio::time::Instant::now() + LINGER;
    while batch.len() < crate::publish::MAX_ENTRIES_PER_REQUEST * 10 {
        match tokio::time::timeout_at(until, entries.recv()).await {
            Ok(Some(entry)) => batch.push(entry),
            Ok(None) => return false,
            Err(_) => break,
        }
    }
    true
}

/// Sends the spool's files oldest first; a file is deleted once all its entries are on the bus,
/// rewritten with only the failed ones otherwise (and the replay stops there). Unreadable lines
/// are moved to `<file>.bad` once, so one corrupt line never blocks the spool.
async fn replay(
    spool: &mut Spool,
    sink: &dyn EventSink,
    policy: SendPolicy,
    lines: &mpsc::UnboundedSender<String>,
) {
    for file in spool.files().unwrap_or_default() {
        let (entries, bad) = match Spool::read_lenient(&file) {
            Ok(read) => read,
            Err(error) => {
                let reason = format!("cannot read spool file {}: {error}", file.display());
                let _ = lines.send(json!({"outcome": "failed", "reason": reason}).to_string());
                return;
            }
        };
        if !bad.is_empty() {
            let reason = match Spool::quarantine(&file, &entries, &bad) {
                Ok(moved) => format!(
                    "{} unreadable line(s) of {} moved to {}",
                    bad.len(),
                    file.display(),
                    moved.display()
                ),
                Err(error) => format!("cannot quarantine {}: {error}", file.display()),
            };
            let _ = lines.send(json!({"outcome": "failed", "reason": reason}).to_string());
        }
        let outcome = send_all(sink, &entries, policy).await;
        let mut failed = Vec::new();
        for (entry, result) in entries.into_iter().zip(outcome.results) {
            match result {
                Published::Published { event_id } => {
                    let _ = lines.send(line(&entry, "published", None, Some(&event_id)));
                }
                Published::Rejected { reason } => {
                    let _ = lines.send(line(&entry, "rejected", Some(&reason), None));
                }
                Published::Failed { .. } => failed.push(entry),
            }
        }
        if failed.is_empty() {
            let _ = std::fs::remove_file(&file);
        } else {
            if let Err(error) = Spool::rewrite(&file, &failed) {
                let reason = format!("cannot rewrite spool file {}: {error}", file.display());
                let _ = lines.send(json!({"outcome": "failed", "reason": reason}).to_string());
            }
            return;
        }
    }
}

/// A report line: `{"bridgeEventId","outcome","reason","eventBridgeId","detailType"}`.
fn line(
    entry: &Entry,
    outcome: &str,
    reason: Option<&str>,
    event_bridge_id: Option<&str>,
) -> String {
    json!({"bridgeEventId": entry.bridge_event_id, "outcome": outcome, "reason": reason,
           "eventBridgeId": event_bridge_id, "detailType": entry.detail_type})
    .to_string()
}
