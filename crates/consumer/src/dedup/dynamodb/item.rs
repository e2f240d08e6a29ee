//! The dedup item's attributes: reading its completed events and writes, and what a claim's condition result means.

use crate::dedup::{
    AgentFacts, ClaimOutcome, ClaimRequest, Lease, MAX_EVENTS_PER_TARGET, TargetSummary,
};
use aws_sdk_dynamodb::types::AttributeValue;
use gev_core::domain::{EffectKey, EpochMillis, EventKey};
use std::collections::HashMap;

/// The attribute names of a dedup item.
pub(super) mod attr {
    /// The partition key: the target.
    pub(crate) const KEY: &str = "pk";
    /// The request id of the invocation holding the lease.
    pub(crate) const LEASE_OWNER: &str = "lease_owner";
    /// When the lease ends (epoch ms).
    pub(crate) const LEASE_UNTIL: &str = "lease_until";
    /// The completed events.
    pub(crate) const DONE: &str = "done";
    /// The writes made to the target.
    pub(crate) const APPLIED: &str = "applied";
    /// The TTL attribute (epoch s).
    pub(crate) const EXPIRY: &str = "expiry";
    /// Inside a `done` entry: the outcome, the payload fingerprint, the expiry (epoch s).
    pub(crate) const OUTCOME: &str = "o";
    /// Inside a `done` entry: the payload fingerprint.
    pub(crate) const PAYLOAD_HASH: &str = "h";
    /// Inside a `done` entry: the expiry (epoch s).
    pub(crate) const ENTRY_EXPIRY: &str = "x";
    /// The prefix of an agent's noted facts: `fact#{participantId}`.
    pub(crate) const FACT_PREFIX: &str = "fact#";
    /// Inside a fact: the agent's interacting duration (ms).
    pub(crate) const FACT_DURATION: &str = "d";
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

pub(super) fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|value| value.parse().ok())
}

/// One completed event, as a `done` entry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DoneEntry {
    pub(super) outcome: String,
    pub(super) payload_hash: String,
    pub(super) expires_at_s: i64,
}

/// The `done` map of an item, by event key; malformed entries are left out.
pub(super) fn done_entries(item: &HashMap<String, AttributeValue>) -> HashMap<String, DoneEntry> {
    let Some(Ok(done)) = item.get(attr::DONE).map(AttributeValue::as_m) else {
        return HashMap::new();
    };
    done.iter()
        .filter_map(|(key, value)| {
            let entry = value.as_m().ok()?;
            Some((
                key.clone(),
                DoneEntry {
                    outcome: text(entry, attr::OUTCOME).unwrap_or("unknown").to_owned(),
                    payload_hash: text(entry, attr::PAYLOAD_HASH)
                        .unwrap_or_default()
                        .to_owned(),
                    expires_at_s: number(entry, attr::ENTRY_EXPIRY).unwrap_or(0),
                },
            ))
        })
        .collect()
}

/// What a claim refused by its condition means, from the item returned as ALL_OLD; with the
/// event's completion when that is why.
pub(super) fn refused_claim(
    item: &HashMap<String, AttributeValue>,
    request: &ClaimRequest,
    now_ms: EpochMillis,
) -> (ClaimOutcome, Option<DoneEntry>) {
    match done_entries(item).remove(request.key.event.as_str()) {
        Some(done) if done.expires_at_s >= now_ms / 1_000 => {
            let outcome = ClaimOutcome::Completed {
                same_payload: done.payload_hash == request.payload_hash,
                outcome: done.outcome.clone(),
            };
            (outcome, Some(done))
        }
        _ => {
            let lease_until_ms = number(item, attr::LEASE_UNTIL).unwrap_or(request.lease_until_ms);
            (ClaimOutcome::Leased { lease_until_ms }, None)
        }
    }
}

/// The writes an item records that expire at `now_s` or later, in key order.
pub(super) fn unexpired_effects(
    item: &HashMap<String, AttributeValue>,
    now_s: i64,
) -> Vec<EffectKey> {
    let mut effects: Vec<EffectKey> = match item.get(attr::APPLIED).map(AttributeValue::as_m) {
        Some(Ok(applied)) => applied
            .iter()
            .filter(|(_, expiry)| {
                expiry
                    .as_n()
                    .ok()
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x >= now_s)
            })
            .map(|(effect, _)| EffectKey::from_trusted(effect.clone()))
            .collect(),
        _ => Vec::new(),
    };
    effects.sort();
    effects
}

/// What an item records, unexpired at `now_ms`: its writes, its completed events, its lease.
pub(super) fn summary(
    item: &HashMap<String, AttributeValue>,
    now_ms: EpochMillis,
) -> TargetSummary {
    let now_s = now_ms / 1_000;
    let mut completed: Vec<EventKey> = done_entries(item)
        .into_iter()
        .filter(|(_, done)| done.expires_at_s >= now_s)
        .map(|(key, _)| EventKey::from_trusted(key))
        .collect();
    completed.sort();
    TargetSummary {
        applied: unexpired_effects(item, now_s),
        completed,
        leased: number(item, attr::LEASE_UNTIL).is_some_and(|until| until >= now_ms),
    }
}

/// The lease a successful claim holds, from the item as it was before (ALL_OLD): whether an
/// unreleased lease was taken over, the unexpired writes, and the events to forget.
pub(super) fn granted_lease(
    old: Option<&HashMap<String, AttributeValue>>,
    request: &ClaimRequest,
    now_ms: EpochMillis,
) -> Lease {
    let Some(old) = old else {
        return Lease::default();
    };
    let now_s = now_ms / 1_000;
    let applied = unexpired_effects(old, now_s);
    let mut live: Vec<(String, i64)> = Vec::new();
    let mut stale_events = Vec::new();
    for (key, done) in done_entries(old) {
        if key == request.key.event.as_str() {
            continue; // overwritten by this event's own completion
        }
        if done.expires_at_s < now_s {
            stale_events.push(EventKey::from_trusted(key));
        } else {
            live.push((key, done.expires_at_s));
        }
    }
    // Room for this event: the oldest completions beyond the bound are forgotten.
    live.sort_by_key(|(_, expires_at_s)| *expires_at_s);
    let excess = (live.len() + 1).saturating_sub(MAX_EVENTS_PER_TARGET);
    stale_events.extend(
        live.into_iter()
            .take(excess)
            .map(|(key, _)| EventKey::from_trusted(key)),
    );
    let previous_owner = old.get(attr::LEASE_OWNER).and_then(|v| v.as_s().ok());
    Lease {
        took_over: previous_owner.is_some_and(|owner| owner != request.owner.as_str()),
        applied,
        stale_events,
        facts: noted_facts(old, now_s),
    }
}

/// The unexpired `fact#{participantId}` attributes of an item, by participant id.
fn noted_facts(item: &HashMap<String, AttributeValue>, now_s: i64) -> HashMap<String, AgentFacts> {
    item.iter()
        .filter_map(|(name, value)| {
            let participant = name.strip_prefix(attr::FACT_PREFIX)?;
            let fact = value.as_m().ok()?;
            if number(fact, attr::ENTRY_EXPIRY)? < now_s {
                return None;
            }
            let interacting_ms = number(fact, attr::FACT_DURATION)?;
            Some((participant.to_owned(), AgentFacts { interacting_ms }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::OwnerToken;
    use gev_core::domain::DedupKey;

    const NOW_MS: i64 = 1_800_000_000_000;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn done(outcome: &str, hash: &str, expiry_s: i64) -> AttributeValue {
        AttributeValue::M(item(&[
            (attr::OUTCOME, s(outcome)),
            (attr::PAYLOAD_HASH, s(hash)),
            (attr::ENTRY_EXPIRY, n(expiry_s)),
        ]))
    }

    fn request(event: &str, hash: &str) -> ClaimRequest {
        ClaimRequest {
            key: DedupKey::from_trusted("target#seed#i-1", event),
            owner: OwnerToken::new("me"),
            lease_until_ms: NOW_MS + 60_000,
            expires_at_s: NOW_MS / 1_000 + 3_600,
            payload_hash: hash.into(),
        }
    }

    #[test]
    fn a_refused_claim_of_a_completed_event_is_a_duplicate_with_its_outcome() {
        let later = NOW_MS / 1_000 + 10;
        let old = item(&[(
            attr::DONE,
            AttributeValue::M(item(&[("seq#1", done("patched", "h1", later))])),
        )]);
        assert_eq!(
            refused_claim(&old, &request("seq#1", "h1"), NOW_MS).0,
            ClaimOutcome::Completed {
                outcome: "patched".into(),
                same_payload: true
            }
        );
        assert_eq!(
            refused_claim(&old, &request("seq#1", "h2"), NOW_MS).0,
            ClaimOutcome::Completed {
                outcome: "patched".into(),
                same_payload: false
            }
        );
    }

    #[test]
    fn a_refused_claim_of_a_leased_target_reports_the_lease_end() {
        let old = item(&[
            (attr::LEASE_OWNER, s("other")),
            (attr::LEASE_UNTIL, n(NOW_MS + 1234)),
        ]);
        assert_eq!(
            refused_claim(&old, &request("seq#2", "h"), NOW_MS).0,
            ClaimOutcome::Leased {
                lease_until_ms: NOW_MS + 1234
            }
        );
    }

    #[test]
    fn a_granted_lease_lists_unexpired_writes_and_the_events_to_forget() {
        let now_s = NOW_MS / 1_000;
        let old = item(&[
            (attr::LEASE_OWNER, s("dead-invocation")),
            (attr::LEASE_UNTIL, n(NOW_MS - 1)),
            (
                attr::DONE,
                AttributeValue::M(item(&[
                    ("seq#1", done("patched", "h", now_s + 10)),
                    ("seq#0", done("ineligible", "h", now_s - 10)),
                    ("seq#9", done("failed", "h", now_s - 10)),
                ])),
            ),
            (
                attr::APPLIED,
                AttributeValue::M(item(&[
                    ("interaction", n(now_s + 10)),
                    ("participant#old", n(now_s - 10)),
                ])),
            ),
        ]);

        let lease = granted_lease(Some(&old), &request("seq#9", "h"), NOW_MS);

        assert!(lease.took_over);
        assert_eq!(lease.applied, [EffectKey::interaction()]);
        assert_eq!(lease.stale_events, [EventKey::from_trusted("seq#0")]);
    }

    #[test]
    fn a_granted_lease_forgets_the_oldest_events_beyond_the_bound() {
        let now_s = NOW_MS / 1_000;
        let entries: HashMap<String, AttributeValue> = (0..MAX_EVENTS_PER_TARGET as i64)
            .map(|k| (format!("seq#{k}"), done("ineligible", "h", now_s + 100 + k)))
            .collect();
        let old = item(&[(attr::DONE, AttributeValue::M(entries))]);

        let lease = granted_lease(Some(&old), &request("seq#new", "h"), NOW_MS);

        assert!(!lease.took_over);
        assert_eq!(lease.stale_events, [EventKey::from_trusted("seq#0")]);
    }
}
