//! Finished spans kept in memory and drawn as an indented tree with durations (`invoke --trace-tree`, tests).

use opentelemetry::Value;
use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A span exporter that keeps every finished span in memory until taken.
#[derive(Debug, Clone, Default)]
pub struct SpanCollector {
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl SpanCollector {
    /// Takes every span collected so far.
    pub fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut *crate::locks::lock(&self.spans))
    }
}

impl SpanExporter for SpanCollector {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        crate::locks::lock(&self.spans).extend(batch);
        Ok(())
    }
}

/// One span of a tree: what tests and the demo look at.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanNode {
    /// The span's name.
    pub name: String,
    /// How long it lasted.
    pub(crate) duration: Duration,
    /// Its attributes.
    pub attributes: HashMap<String, Value>,
    /// True when its status is ERROR.
    pub is_error: bool,
    /// Names of the span's events (e.g. `exception`).
    pub events: Vec<String>,
    /// Its child spans, in start order.
    pub children: Vec<SpanNode>,
}

impl SpanNode {
    /// The attribute `key` as text, if set.
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes
            .get(key)
            .map(|value| value.as_str().into_owned())
    }

    /// The first descendant (depth first, self included) named `name`.
    pub fn find(&self, name: &str) -> Option<&SpanNode> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(name))
    }

    /// The tree's shape: each span as `name(children...)`, children in start order.
    pub fn shape(&self) -> String {
        if self.children.is_empty() {
            return self.name.clone();
        }
        let children: Vec<String> = self.children.iter().map(SpanNode::shape).collect();
        format!("{}({})", self.name, children.join(", "))
    }
}

/// Builds the trees of `spans`: one root per span whose parent is not among them, ordered by
/// start time, each with its trace id.
pub fn build_trees(spans: &[SpanData]) -> Vec<(TraceId, SpanNode)> {
    let present: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|span| (span.span_context.span_id(), span))
        .collect();
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    let mut roots = Vec::new();
    for span in spans {
        if span.parent_span_id != SpanId::INVALID && present.contains_key(&span.parent_span_id) {
            children.entry(span.parent_span_id).or_default().push(span);
        } else {
            roots.push(span);
        }
    }
    roots.sort_by_key(|span| span.start_time);
    roots
        .into_iter()
        .map(|root| (root.span_context.trace_id(), node(root, &children)))
        .collect()
}

fn node(span: &SpanData, children: &HashMap<SpanId, Vec<&SpanData>>) -> SpanNode {
    let mut kids = children
        .get(&span.span_context.span_id())
        .cloned()
        .unwrap_or_default();
    kids.sort_by_key(|child| child.start_time);
    SpanNode {
        name: span.name.to_string(),
        duration: span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or_default(),
        attributes: span
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.clone()))
            .collect(),
        is_error: matches!(span.status, Status::Error { .. }),
        events: span
            .events
            .iter()
            .map(|event| event.name.to_string())
            .collect(),
        children: kids
            .into_iter()
            .map(|child| node(child, children))
            .collect(),
    }
}

/// Attributes worth showing beside a span's name in the drawn tree.
const SHOWN: &[&str] = &[
    "outcome",
    "reason",
    "dedup.result",
    "eligibility.reason",
    "cache",
    "http.response.status_code",
    "http.request.resend_count",
    "error.type",
];

/// Draws a tree, one span per line, e.g. `├─ fetch  3.20 ms`.
pub fn render(root: &SpanNode) -> String {
    let mut out = String::new();
    draw(root, "", "", &mut out);
    out
}

fn draw(node: &SpanNode, first_prefix: &str, rest_prefix: &str, out: &mut String) {
    let millis = node.duration.as_secs_f64() * 1_000.0;
    let _ = write!(out, "{first_prefix}{}  {millis:.2} ms", node.name);
    for key in SHOWN {
        if let Some(value) = node.attr(key) {
            let _ = write!(out, "  {key}={value}");
        }
    }
    if node.is_error {
        out.push_str("  [ERROR]");
    }
    out.push('\n');
    let count = node.children.len();
    for (index, child) in node.children.iter().enumerate() {
        let last = index + 1 == count;
        let (branch, next) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        draw(
            child,
            &format!("{rest_prefix}{branch}"),
            &format!("{rest_prefix}{next}"),
            out,
        );
    }
}
