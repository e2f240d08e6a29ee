//! The bridge's publishing side: entries from a bounded queue onto the bus in requests of up to 10; what the bus will not take goes to the spool (and, while the spool holds anything, new entries queue behind it there), replayed oldest first once the bus takes entries again.

use super::spool::Spool;
use crate::publish::{Entry, EventSink, Published, SendPolicy, send_all};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the forwarder waits for more entries before sending what it has.
const LINGER: Duration = Duration::from_millis(20);
/// How often a non-empty spool is tried again while no entries arrive.
const SPOOL_RETRY: Duration = Duration::from_millis(500);

/// Publishes what arrives on `entries` until the queue closes; reports one JSON line per
/// entry on `lines` (published, rejected or spooled).
pub async fn forward(
    mut entries: mpsc::Receiver<Entry>,
    sink: Arc<dyn EventSink>,
    mut spool: Option<Spool>,
    policy: SendPolicy,
    lines: mpsc::UnboundedSender<String>,
) {
    let mut open = true;
    while open {
        let mut batch: Vec<Entry> = Vec::new();
        let waited = tokio::time::timeout(SPOOL_RETRY, entries.recv()).await;
        match waited {
            Ok(Some(entry)) => batch.push(entry),
            Ok(None) => open = false,
            Err(_) => {}
        }
        if !batch.is_empty() {
            let until = tokio::time::Instant::now() + LINGER;
            while batch.len() < crate::publish::MAX_ENTRIES_PER_REQUEST * 10 {
                match tokio::time::timeout_at(until, entries.recv()).await {
                    Ok(Some(entry)) => batch.push(entry),
                    Ok(None) => {
                        open = false;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        let spooled = spool
            .as_ref()
            .is_some_and(|spool| !spool.files().unwrap_or_default().is_empty());
        if spooled {
            // Keep the order: new entries wait behind the spooled ones.
            if let Some(spool) = spool.as_mut() {
                spool_entries(spool, &batch, &lines);
                replay(spool, sink.as_ref(), policy, &lines).await;
            }
            continue;
        }
        if batch.is_empty() {
            continue;
        }
        let failed = send(sink.as_ref(), &batch, policy, &lines).await;
        match spool.as_mut() {
            Some(spool) => spool_entries(spool, &failed, &lines),
            None => {
                for entry in &failed {
                    let _ = lines.send(line(
                        entry,
                        "failed",
                        Some("the bus did not take it and no --spool is set"),
                        None,
                    ));
                }
            }
        }
    }
}

/// Sends `batch`; reports the published and rejected entries and returns the failed ones.
async fn send(
    sink: &dyn EventSink,
    batch: &[Entry],
    policy: SendPolicy,
    lines: &mpsc::UnboundedSender<String>,
) -> Vec<Entry> {
    let outcome = send_all(sink, batch, policy).await;
    let mut failed = Vec::new();
    for (entry, result) in batch.iter().zip(outcome.results) {
        match result {
            Published::Published { event_id } => {
                let _ = lines.send(line(entry, "published", None, Some(&event_id)));
            }
            Published::Rejected { reason } => {
                let _ = lines.send(line(entry, "rejected", Some(&reason), None));
            }
            Published::Failed { .. } => failed.push(entry.clone()),
        }
    }
    failed
}

/// Appends `entries` to the spool (reported as spooled), or reports them failed when it cannot.
fn spool_entries(spool: &mut Spool, entries: &[Entry], lines: &mpsc::UnboundedSender<String>) {
    match spool.append(entries) {
        Ok(()) => {
            for entry in entries {
                let _ = lines.send(line(
                    entry,
                    "spooled",
                    Some("the bus did not take it yet"),
                    None,
                ));
            }
        }
        Err(error) => {
            for entry in entries {
                let _ = lines.send(line(
                    entry,
                    "failed",
                    Some(&format!("cannot spool: {error}")),
                    None,
                ));
            }
        }
    }
}

/// Sends the spool's files oldest first; a file is deleted once all its entries are on the bus,
/// rewritten with only the failed ones otherwise (and the replay stops there).
async fn replay(
    spool: &mut Spool,
    sink: &dyn EventSink,
    policy: SendPolicy,
    lines: &mpsc::UnboundedSender<String>,
) {
    for file in spool.files().unwrap_or_default() {
        let Ok(entries) = Spool::read(&file) else {
            let _ = lines.send(json!({"outcome": "failed", "reason": format!("unreadable spool file {}", file.display())}).to_string());
            continue;
        };
        let failed = send(sink, &entries, policy, lines).await;
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
