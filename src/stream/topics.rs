//! The topics a stream listens to: checked against the organization's available topics (WebSocket transport, concrete ids) and shared out over channels of at most 1,000 topics.

use gev_genesys::integrations::AvailableTopic;

/// Topics one channel takes.
pub const TOPICS_PER_CHANNEL: usize = 1_000;
/// Channels one OAuth client may hold.
pub const MAX_CHANNELS: usize = 20;

/// Why a topic (or the list) cannot be streamed; each names its topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicProblem {
    /// No topics at all.
    #[error("no topics: give --topic or --topics-file")]
    NoTopics,
    /// A template (`{id}`) where a WebSocket subscription needs a concrete id.
    #[error(
        "{0}: a WebSocket subscription needs concrete ids; for every id use the \
         EventBridge integration (configure) instead"
    )]
    NotConcrete(String),
    /// Not among the organization's available topics.
    #[error("{0}: not an available topic of this organization")]
    NotAvailable(String),
    /// Available, but not over WebSocket.
    #[error("{topic}: {template} is not carried over WebSocket (transports: {})", transports.join(", "))]
    NotOverWebSocket {
        /// The topic.
        topic: String,
        /// Its template.
        template: String,
        /// The transports that carry it.
        transports: Vec<String>,
    },
}

/// The topics' problems, one a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct TopicProblems(pub Vec<TopicProblem>);

/// Why the topics cannot be streamed; each problem names its topic.
pub fn check_topics(topics: &[String], available: &[AvailableTopic]) -> Result<(), TopicProblems> {
    let mut problems = Vec::new();
    if topics.is_empty() {
        problems.push(TopicProblem::NoTopics);
    }
    for topic in topics {
        if topic.contains("{id}") {
            problems.push(TopicProblem::NotConcrete(topic.clone()));
            continue;
        }
        match available.iter().find(|t| matches_template(&t.id, topic)) {
            None => problems.push(TopicProblem::NotAvailable(topic.clone())),
            Some(template) if !carried_by_websocket(template) => {
                problems.push(TopicProblem::NotOverWebSocket {
                    topic: topic.clone(),
                    template: template.id.clone(),
                    transports: template.transports.clone(),
                });
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(TopicProblems(problems))
    }
}

fn carried_by_websocket(topic: &AvailableTopic) -> bool {
    topic
        .transports
        .iter()
        .any(|transport| transport == "All" || transport == "Websocket")
}

/// True when `topic` is `template` with each `{id}` replaced by a non-empty segment.
pub fn matches_template(template: &str, topic: &str) -> bool {
    let (parts, segments): (Vec<&str>, Vec<&str>) =
        (template.split('.').collect(), topic.split('.').collect());
    parts.len() == segments.len()
        && parts.iter().zip(&segments).all(|(part, segment)| {
            if *part == "{id}" {
                !segment.is_empty()
            } else {
                part == segment
            }
        })
}

/// More topics than the channels one client may hold can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{topics} topics need {channels} channels of {TOPICS_PER_CHANNEL}, but a client may hold \
     {MAX_CHANNELS} ({} topics at most)",
    MAX_CHANNELS * TOPICS_PER_CHANNEL
)]
pub struct TooManyTopics {
    /// The distinct topics asked for.
    pub topics: usize,
    /// The channels they would need.
    pub channels: usize,
}

/// `topics` (deduplicated, in order) shared over channels of at most 1,000; an error with the
/// arithmetic when more than 20 channels would be needed.
pub fn shard(topics: &[String]) -> Result<Vec<Vec<String>>, TooManyTopics> {
    let mut unique: Vec<String> = Vec::with_capacity(topics.len());
    let mut seen = std::collections::HashSet::new();
    for topic in topics {
        if seen.insert(topic.as_str()) {
            unique.push(topic.clone());
        }
    }
    let channels = unique.len().div_ceil(TOPICS_PER_CHANNEL);
    if channels > MAX_CHANNELS {
        return Err(TooManyTopics {
            topics: unique.len(),
            channels,
        });
    }
    Ok(unique
        .chunks(TOPICS_PER_CHANNEL)
        .map(<[String]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available() -> Vec<AvailableTopic> {
        vec![
            AvailableTopic {
                id: "v2.detail.events.conversation.{id}.user.end".into(),
                transports: vec!["All".into()],
            },
            AvailableTopic {
                id: "v2.detail.events.conversation.{id}.acd.end".into(),
                transports: vec!["EventBridge".into()],
            },
        ]
    }

    #[test]
    fn concrete_websocket_topics_pass_and_each_other_kind_is_named_with_its_fix() {
        let topics: Vec<String> = [
            "v2.detail.events.conversation.c-1.user.end",
            "v2.detail.events.conversation.{id}.user.end",
            "v2.detail.events.conversation.c-1.acd.end",
            "v2.nothing.here",
        ]
        .map(String::from)
        .to_vec();

        let problems: Vec<String> = check_topics(&topics, &available())
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect();

        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("concrete ids") && problems[0].contains("EventBridge"));
        assert!(problems[1].contains("not carried over WebSocket"));
        assert!(problems[2].contains("not an available topic"));
        assert!(check_topics(&topics[..1], &available()).is_ok());
    }

    #[test]
    fn two_thousand_five_hundred_topics_take_three_channels() {
        let topics: Vec<String> = (0..2_500)
            .map(|n| format!("v2.users.u{n}.presence"))
            .collect();

        let channels = shard(&topics).unwrap();

        let sizes: Vec<usize> = channels.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1_000, 1_000, 500]);
    }

    #[test]
    fn more_than_twenty_channels_of_topics_is_refused_with_the_arithmetic() {
        let topics: Vec<String> = (0..20_001)
            .map(|n| format!("v2.users.u{n}.presence"))
            .collect();

        let problem = shard(&topics).unwrap_err().to_string();

        assert!(
            problem.contains("20001 topics need 21 channels"),
            "{problem}"
        );
    }
}
