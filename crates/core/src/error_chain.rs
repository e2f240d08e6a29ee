//! Printing an error with its causes, once each: `error: cause: cause`, for logs, spans, outcome reasons and the CLI.

use std::error::Error;
use std::fmt::Write;

/// `error` followed by each of its sources, joined by `: `. A source whose text the line already
/// holds is skipped, so an error that quotes its cause is not printed twice.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(source) = cause {
        let text = source.to_string();
        if !text.is_empty() && !line.contains(&text) {
            let _ = write!(line, ": {text}");
        }
        cause = source.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot fetch")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("request failed")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_is_printed_once_in_order() {
        let error = Outer(Middle(std::io::Error::other("connection refused")));

        assert_eq!(
            error_chain(&error),
            "cannot fetch: request failed: connection refused"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot fetch: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        let error = Quoting(std::io::Error::other("dns error"));

        assert_eq!(error_chain(&error), "cannot fetch: dns error");
    }
}
