//! Trace context across process boundaries: `traceparent` out on every Genesys request, X-Ray or W3C context in.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes propagation headers into a reqwest header map.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The propagation headers (`traceparent`, ...) for `span`, from the global propagator.
/// Empty when OpenTelemetry is off.
pub fn outgoing_headers(span: &tracing::Span) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let context = span.context();
    if context.span().span_context().is_valid() {
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(&mut headers));
        });
    }
    headers
}

struct OneHeader<'a>(&'a str, &'a str);

impl Extractor for OneHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        key.eq_ignore_ascii_case(self.0).then_some(self.1)
    }
    fn keys(&self) -> Vec<&str> {
        vec![self.0]
    }
}

/// The span context of an X-Ray trace header (`Root=1-...;Parent=...;Sampled=1`), if valid.
pub fn xray_context(header: &str) -> Option<SpanContext> {
    let context = XrayPropagator::new().extract(&OneHeader("x-amzn-trace-id", header));
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

/// The span context of a W3C `traceparent` (and `tracestate`) carried in message attributes.
pub fn w3c_context(attributes: &HashMap<String, String>) -> Option<SpanContext> {
    let context = TraceContextPropagator::new().extract(attributes);
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

/// How a context that arrived with the work relates to our span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// The parent, when sampled (so a parent-based sampler keeps our spans); else a link.
    Parent,
    /// A link only: our span starts its own trace.
    Link,
}

/// Connects `span` to a context that arrived with the work, as `relation` says.
pub fn connect(span: &tracing::Span, incoming: SpanContext, relation: Incoming) {
    if relation == Incoming::Parent && incoming.is_sampled() {
        let _ = span.set_parent(Context::new().with_remote_span_context(incoming));
    } else {
        span.add_link(incoming);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xray_header_gives_its_trace_and_parent() {
        let context = xray_context(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(context.span_id().to_string(), "53995c3f42cd8ad8");
        assert!(context.is_sampled());
    }

    #[test]
    fn a_malformed_xray_header_gives_nothing() {
        assert!(xray_context("Root=nonsense").is_none());
    }

    #[test]
    fn a_traceparent_attribute_gives_its_context() {
        let attributes = HashMap::from([(
            "traceparent".to_owned(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        )]);
        let context = w3c_context(&attributes).unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
    }
}
