//! Which topics the bridge listens to: the followed queues' conversation topics, and for each conversation seen on them its detail-event topics (user.end, customer.end, acw) until its after-call work is over, within 1,000 topics per channel.

use crate::stream::topics::TOPICS_PER_CHANNEL;
use std::collections::{BTreeMap, BTreeSet};

/// The detail-event topics of a conversation, as the consumer handles them.
pub(super) fn conversation_topics(conversation: &str) -> [String; 3] {
    ["user.end", "customer.end", "acw"]
        .map(|suffix| format!("v2.detail.events.conversation.{conversation}.{suffix}"))
}

/// The topic of a followed queue's calls.
pub(super) fn queue_topic(queue: &str) -> String {
    format!("v2.routing.queues.{queue}.conversations.calls")
}

/// The conversation id of a queue's conversation notification (`eventBody.id`), if it is one.
pub(super) fn queued_conversation(topic: &str, body: &serde_json::Value) -> Option<String> {
    if !(topic.starts_with("v2.routing.queues.") && topic.ends_with(".conversations.calls")) {
        return None;
    }
    let id = body.get("id")?.as_str()?;
    let safe = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    safe.then(|| id.to_owned())
}

/// The conversation whose after-call work a detail event says is over (`…{id}.acw`).
pub(super) fn finished_conversation(topic: &str) -> Option<&str> {
    topic
        .strip_prefix("v2.detail.events.conversation.")?
        .strip_suffix(".acw")
}

/// The topics of every shard (channel).
#[derive(Debug, Clone)]
pub(super) struct Coverage {
    shards: Vec<BTreeSet<String>>,
    conversations: BTreeMap<String, usize>,
    max_shards: usize,
}

/// What a coverage change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// These shards' topics changed (subscriptions to put again); a new shard may be among them.
    Shards(Vec<usize>),
    /// Nothing to do (already covered, or not covered).
    None,
    /// No shard has room for the conversation's topics.
    NoRoom,
}

impl Coverage {
    /// Coverage starting with `fixed` topics (queues and explicit topics), over at most
    /// `max_shards` channels.
    pub(super) fn new(fixed: &[String], max_shards: usize) -> Self {
        let mut shards: Vec<BTreeSet<String>> = fixed
            .chunks(TOPICS_PER_CHANNEL)
            .map(|chunk| chunk.iter().cloned().collect())
            .collect();
        if shards.is_empty() {
            shards.push(BTreeSet::new());
        }
        Coverage {
            shards,
            conversations: BTreeMap::new(),
            max_shards,
        }
    }

    /// Each shard's topics.
    pub(super) fn shards(&self) -> Vec<Vec<String>> {
        self.shards
            .iter()
            .map(|s| s.iter().cloned().collect())
            .collect()
    }

    /// Adds the detail topics of `conversation`, on the shard with the most room.
    pub(super) fn add(&mut self, conversation: &str) -> Change {
        if self.conversations.contains_key(conversation) {
            return Change::None;
        }
        let topics = conversation_topics(conversation);
        let roomy = self
            .shards
            .iter()
            .enumerate()
            .filter(|(_, shard)| shard.len() + topics.len() <= TOPICS_PER_CHANNEL)
            .min_by_key(|(_, shard)| shard.len())
            .map(|(index, _)| index);
        let shard = match roomy {
            Some(shard) => shard,
            None if self.shards.len() < self.max_shards => {
                self.shards.push(BTreeSet::new());
                self.shards.len() - 1
            }
            None => return Change::NoRoom,
        };
        self.shards[shard].extend(topics);
        self.conversations.insert(conversation.to_owned(), shard);
        Change::Shards(vec![shard])
    }

    /// Removes the detail topics of `conversation`.
    pub(super) fn remove(&mut self, conversation: &str) -> Change {
        let Some(shard) = self.conversations.remove(conversation) else {
            return Change::None;
        };
        for topic in conversation_topics(conversation) {
            self.shards[shard].remove(&topic);
        }
        Change::Shards(vec![shard])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_conversation_on_a_followed_queue_is_covered_until_its_after_call_work_is_over() {
        let mut coverage = Coverage::new(&[queue_topic("q-1")], 20);
        let body = json!({"id": "c-1", "participants": []});
        let conversation = queued_conversation(&queue_topic("q-1"), &body).unwrap();

        assert_eq!(coverage.add(&conversation), Change::Shards(vec![0]));
        assert_eq!(coverage.add(&conversation), Change::None);
        assert_eq!(coverage.shards()[0].len(), 4);

        let finished = finished_conversation("v2.detail.events.conversation.c-1.acw").unwrap();
        assert_eq!(coverage.remove(finished), Change::Shards(vec![0]));
        assert_eq!(coverage.shards()[0], [queue_topic("q-1")]);
    }

    #[test]
    fn conversations_spill_to_a_new_channel_and_are_refused_when_every_channel_is_full() {
        let mut coverage = Coverage::new(&[queue_topic("q-1")], 2);

        for n in 0..666 {
            assert!(matches!(coverage.add(&format!("c-{n}")), Change::Shards(_)));
        }
        let sizes: Vec<usize> = coverage.shards().iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 1 + 666 * 3);
        assert!(sizes.iter().all(|size| *size <= 1_000), "{sizes:?}");
        assert_eq!(coverage.add("c-666"), Change::NoRoom, "{sizes:?}");
    }

    #[test]
    fn only_queue_call_topics_with_a_usable_id_name_a_conversation() {
        let body = json!({"id": "../x"});
        assert_eq!(queued_conversation(&queue_topic("q"), &body), None);
        assert_eq!(
            queued_conversation("v2.users.u.presence", &json!({"id": "c"})),
            None
        );
    }
}
