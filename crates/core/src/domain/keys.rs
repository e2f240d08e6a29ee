//! The keys of dedup records: what an event may act on (its target), which delivery it is, and the writes made.

use std::fmt;

/// What one event may act on, as far as it is known before the fetch: an interaction, or a
/// conversation (whose agent participant is known only once it is fetched). The dedup store
/// leases it, so that one event at a time reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey(String);

impl TargetKey {
    /// Wraps a key that was built from validated parts (or by a store reading its own records).
    pub fn from_trusted(key: impl Into<String>) -> Self {
        TargetKey(key.into())
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The target of a native conversation's events: the conversation `id` (checked by its
    /// caller), whose agent participants they may wrap up.
    pub fn native_conversation(id: &str) -> Self {
        TargetKey(format!("target#native#{id}"))
    }
}

impl fmt::Display for TargetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One delivery's identity within its target: every redelivery of an event has the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(String);

impl EventKey {
    /// Keys longer than this are replaced by a fingerprint, so stored records stay small.
    pub(crate) const MAX_LEN: usize = 128;

    /// The key `text`, or `h:` and its 64-bit FNV-1a fingerprint when it is longer than
    /// [`EventKey::MAX_LEN`] bytes.
    pub(crate) fn new(text: String) -> Self {
        if text.len() <= Self::MAX_LEN {
            return EventKey(text);
        }
        let mut hash = super::fingerprint::Fnv1a::default();
        hash.update(text.as_bytes());
        EventKey(format!("h:{}", hash.hex()))
    }

    /// Wraps a key read back from a store.
    pub fn from_trusted(key: impl Into<String>) -> Self {
        EventKey(key.into())
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key under which one delivery is claimed in the dedup store: its target and its identity
/// within that target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey {
    /// What the event may act on.
    pub target: TargetKey,
    /// Which delivery it is, within the target.
    pub event: EventKey,
}

impl DedupKey {
    /// A key from trusted parts (tests, stores).
    pub fn from_trusted(target: impl Into<String>, event: impl Into<String>) -> Self {
        DedupKey {
            target: TargetKey::from_trusted(target),
            event: EventKey::from_trusted(event),
        }
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.target, self.event)
    }
}

/// A write made to a target, remembered so that no other event makes it again: the
/// interaction's disposition, or one participant's wrap-up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EffectKey(String);

impl EffectKey {
    /// The disposition of the (tutorial-dialect) interaction that is the target.
    pub fn interaction() -> Self {
        EffectKey("interaction".into())
    }

    /// The wrap-up of one participant of the conversation that is the target.
    pub fn participant(id: &super::ids::ParticipantId) -> Self {
        EffectKey(format!("participant#{id}"))
    }

    /// Wraps a key read back from a store.
    pub fn from_trusted(key: impl Into<String>) -> Self {
        EffectKey(key.into())
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EffectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_event_key_is_replaced_by_a_short_fingerprint() {
        let long = EventKey::new("x".repeat(300));
        assert_eq!(long.as_str().len(), 18);
        assert_eq!(long, EventKey::new("x".repeat(300)));
        assert_ne!(long, EventKey::new("y".repeat(300)));
        assert_eq!(EventKey::new("seq#7".into()).as_str(), "seq#7");
    }
}
