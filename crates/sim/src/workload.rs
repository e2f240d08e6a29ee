//! Generated workloads for benchmarks and chaos tests: simulator seed data and the deliveries a
//! platform would make, duplicates included, with the targets that must end up written once.

use super::SeedData;
use serde_json::{Map, Value, json};

/// What to generate.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Tutorial-dialect voice calls that must get a disposition.
    pub eligible_calls: usize,
    /// Tutorial-dialect interactions that must not (chats, short calls, calls in progress, in turn).
    pub ineligible_calls: usize,
    /// Native conversations whose agent must get a wrap-up.
    pub eligible_conversations: usize,
    /// Events per target (updates of one interaction; `user.end` then `customer.end` of one call).
    pub events_per_target: usize,
    /// Share of the events delivered a second time.
    pub duplicate_share: f64,
    /// Makes ids unique between runs against one dedup table.
    pub prefix: String,
    /// Seeds the generator, so a workload can be repeated.
    pub seed: u64,
}

/// A generated workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// What to seed the simulator with.
    pub seed_data: SeedData,
    /// Every delivery, duplicates included, shuffled.
    pub deliveries: Vec<Value>,
    /// How many of the deliveries are duplicates.
    pub duplicates: usize,
    /// The eligible calls' interaction ids.
    pub eligible_calls: Vec<String>,
    /// The ineligible calls' interaction ids.
    pub ineligible_calls: Vec<String>,
    /// The simulator's write-count key (`conversation/participant`) of each eligible agent, and
    /// of the customer participant that must never be written.
    pub eligible_agents: Vec<String>,
    /// The customer participants (`conversation/participant`), never to be written.
    pub customers: Vec<String>,
}

fn interaction(id: &str, media: &str, state: &str, seconds: u32) -> Map<String, Value> {
    let end = format!("2026-11-23T10:{:02}:{:02}Z", seconds / 60, seconds % 60);
    let body = json!({
        "id": id, "type": media, "state": state,
        "metadata": {"startTime": "2026-11-23T10:00:00Z", "endTime": end}
    });
    body.as_object().cloned().unwrap_or_default()
}

fn conversation(id: &str) -> Map<String, Value> {
    let body = json!({
        "id": id,
        "participants": [
            {"id": format!("{id}-cust"), "purpose": "customer",
             "calls": [{"id": format!("{id}-cust-call"), "state": "disconnected"}]},
            {"id": format!("{id}-agent"), "purpose": "agent",
             "connectedTime": "2026-11-23T10:00:00.000Z", "endTime": "2026-11-23T10:01:00.000Z",
             "wrapupRequired": true, "endAcwTime": "2026-11-23T10:01:30.000Z",
             "calls": [{"id": format!("{id}-call"), "state": "disconnected",
                        "afterCallWork": {"state": "complete"}}]}
        ]
    });
    body.as_object().cloned().unwrap_or_default()
}

fn seed_event(n: usize, interaction: &str, sequence: usize) -> Value {
    json!({
        "version": "0", "id": format!("load-{n}"), "detail-type": "purecloud:v2:interaction:update",
        "source": "com.genesys.interaction", "account": "123456789012", "region": "eu-west-1",
        "time": "2026-11-23T10:15:00Z", "resources": [],
        "detail": {"interactionId": interaction, "sequenceId": sequence,
                   "interactionType": "voice", "state": "completed"}
    })
}

fn native_event(n: usize, conversation: &str, topic: &str, participant: &str, time: i64) -> Value {
    json!({
        "version": "0", "id": format!("load-{n}"),
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic}"),
        "source": "aws.partner/genesys.com/cloud/org/load", "account": "123456789012",
        "region": "eu-west-1", "time": "2026-11-23T10:15:00Z", "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conversation}.{topic}"),
            "version": "2",
            "eventBody": {"conversationId": conversation, "participantId": participant,
                          "mediaType": "VOICE", "eventTime": time},
            "metadata": {"CorrelationId": format!("corr-{n}")}
        }
    })
}

impl WorkloadSpec {
    /// The workload this spec describes.
    pub fn generate(&self) -> Workload {
        let prefix = &self.prefix;
        let eligible_calls: Vec<String> = (0..self.eligible_calls)
            .map(|n| format!("{prefix}-call-{n}"))
            .collect();
        let ineligible_calls: Vec<String> = (0..self.ineligible_calls)
            .map(|n| format!("{prefix}-other-{n}"))
            .collect();
        let conversations: Vec<String> = (0..self.eligible_conversations)
            .map(|n| format!("{prefix}-conv-{n}"))
            .collect();

        let mut interactions: Vec<Map<String, Value>> = eligible_calls
            .iter()
            .map(|id| interaction(id, "voice", "completed", 60))
            .collect();
        interactions.extend(
            ineligible_calls
                .iter()
                .enumerate()
                .map(|(n, id)| match n % 3 {
                    0 => interaction(id, "chat", "completed", 60),
                    1 => interaction(id, "voice", "completed", 10),
                    _ => interaction(id, "voice", "connected", 60),
                }),
        );

        let mut events = Vec::new();
        for id in eligible_calls.iter().chain(&ineligible_calls) {
            for sequence in 1..=self.events_per_target {
                events.push(seed_event(events.len(), id, sequence));
            }
        }
        for (n, id) in conversations.iter().enumerate() {
            let time = 1_795_428_000_000 + n as i64 * 10;
            for k in 0..self.events_per_target {
                let (topic, participant) = if k % 2 == 0 {
                    ("user.end", format!("{id}-agent"))
                } else {
                    ("customer.end", format!("{id}-cust"))
                };
                events.push(native_event(
                    events.len(),
                    id,
                    topic,
                    &participant,
                    time + k as i64,
                ));
            }
        }
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let duplicates: Vec<Value> = events
            .iter()
            .filter(|_| rng.f64() < self.duplicate_share)
            .cloned()
            .collect();
        let duplicate_count = duplicates.len();
        let mut deliveries: Vec<Value> = events.into_iter().chain(duplicates).collect();
        rng.shuffle(&mut deliveries);
        Workload {
            seed_data: SeedData {
                interactions,
                conversations: conversations.iter().map(|id| conversation(id)).collect(),
                ..SeedData::default()
            },
            deliveries,
            duplicates: duplicate_count,
            eligible_calls,
            ineligible_calls,
            eligible_agents: conversations
                .iter()
                .map(|id| format!("{id}/{id}-agent"))
                .collect(),
            customers: conversations
                .iter()
                .map(|id| format!("{id}/{id}-cust"))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workload_has_the_events_and_duplicates_asked_for() {
        let workload = WorkloadSpec {
            eligible_calls: 10,
            ineligible_calls: 6,
            eligible_conversations: 4,
            events_per_target: 2,
            duplicate_share: 0.5,
            prefix: "t".into(),
            seed: 1,
        }
        .generate();
        assert_eq!(workload.deliveries.len(), 40 + workload.duplicates);
        assert!(workload.duplicates > 5 && workload.duplicates < 35);
        assert_eq!(workload.seed_data.interactions.len(), 16);
        assert_eq!(workload.seed_data.conversations.len(), 4);
        assert_eq!(workload.eligible_agents[0], "t-conv-0/t-conv-0-agent");
    }

    #[test]
    fn the_same_seed_gives_the_same_deliveries() {
        let spec = WorkloadSpec {
            eligible_calls: 5,
            ineligible_calls: 5,
            eligible_conversations: 5,
            events_per_target: 2,
            duplicate_share: 0.3,
            prefix: "t".into(),
            seed: 9,
        };
        assert_eq!(spec.generate().deliveries, spec.generate().deliveries);
    }
}
