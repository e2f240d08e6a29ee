//! Identifier newtypes, parsed at the edge so that only validated ids can reach a URL or a dedup key.

use std::fmt;

/// Longest id we accept. Genesys ids are 36-character UUIDs; the margin admits other id schemes.
pub const MAX_ID_LEN: usize = 128;

/// Why a piece of text is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    /// Nothing at all.
    Empty,
    #[error("is {len} characters long; at most {MAX_ID_LEN} are allowed")]
    /// Longer than [`MAX_ID_LEN`].
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    #[error("contains {found:?}; only letters, digits, '-', '_' and '.' are allowed")]
    /// A character outside letters, digits, `-`, `_` and `.`.
    BadCharacter {
        /// The first character that is not allowed.
        found: char,
    },
    #[error("is a dot segment ('.' or '..'), which would change the request path")]
    /// `.` or `..`.
    DotSegment,
}

/// Checks that `text` is safe as one URL path segment and as a DynamoDB key part.
pub(crate) fn validate_path_segment(text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    let len = text.chars().count();
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong { len });
    }
    if let Some(found) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(IdError::BadCharacter { found });
    }
    if text == "." || text == ".." {
        return Err(IdError::DotSegment);
    }
    Ok(())
}

macro_rules! path_safe_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses `text`, accepting only characters that are safe in a URL path segment.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                validate_path_segment(text)?;
                Ok(Self(text.to_owned()))
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

path_safe_id!(
    /// The id of a tutorial-dialect interaction (`detail.interactionId`).
    InteractionId
);
path_safe_id!(
    /// The sequence id of one interaction update (`detail.sequenceId`), kept as decimal text when numeric.
    SequenceId
);
path_safe_id!(
    /// The id of the disposition (wrap-up) code to apply.
    DispositionCodeId
);
path_safe_id!(
    /// The id of a Genesys Cloud conversation (`eventBody.conversationId`).
    ConversationId
);
path_safe_id!(
    /// The id of one participant of a conversation.
    ParticipantId
);
path_safe_id!(
    /// The id of one communication (e.g. a call) of a participant.
    CommunicationId
);
path_safe_id!(
    /// The id of a Genesys Cloud integration (e.g. the Amazon EventBridge Source).
    IntegrationId
);
path_safe_id!(
    /// The id of a routing queue (`eventBody.queueId`, a participant's `queueId`).
    QueueId
);
path_safe_id!(
    /// The id of a division (`eventBody.divisionId`, a queue's `division.id`).
    DivisionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_a_valid_interaction_id() {
        let id = InteractionId::parse("3f2c9a1e-8b4d-4e6f-9a7b-1c2d3e4f5a6b").unwrap();
        assert_eq!(id.as_str(), "3f2c9a1e-8b4d-4e6f-9a7b-1c2d3e4f5a6b");
    }

    #[test]
    fn an_empty_id_is_refused() {
        assert_eq!(InteractionId::parse(""), Err(IdError::Empty));
    }

    #[test]
    fn a_path_traversal_attempt_is_refused() {
        assert_eq!(
            InteractionId::parse("../../admin"),
            Err(IdError::BadCharacter { found: '/' })
        );
        assert_eq!(InteractionId::parse(".."), Err(IdError::DotSegment));
    }

    #[test]
    fn query_and_fragment_characters_are_refused() {
        for bad in ["a?b=1", "a#b", "a%2Fb", "a b", "a\nb", "ü"] {
            assert!(InteractionId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_id_longer_than_the_limit_is_refused() {
        let long = "a".repeat(MAX_ID_LEN + 1);
        assert_eq!(
            SequenceId::parse(&long),
            Err(IdError::TooLong {
                len: MAX_ID_LEN + 1
            })
        );
        assert!(SequenceId::parse(&"a".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn an_error_message_says_what_is_wrong() {
        let err = DispositionCodeId::parse("a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "contains '/'; only letters, digits, '-', '_' and '.' are allowed"
        );
    }
}
