//! JSON log lines for Lambda: the event's fields, its spans' fields, and the OpenTelemetry trace and span ids.

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use std::fmt;
use std::io::Write;
use std::sync::OnceLock;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Writes one JSON object per log event and line: `level`, `message`, the event's fields, the
/// fields of every span it is inside (innermost wins), `span` (the innermost span's name), and
/// `trace_id` / `span_id` of the innermost traced span, so CloudWatch Logs lines join up with traces.
pub struct JsonLogLayer<W> {
    make_writer: W,
    dispatch: OnceLock<WeakDispatch>,
}

impl<W> JsonLogLayer<W> {
    /// A layer writing to what `make_writer` makes.
    pub fn new(make_writer: W) -> Self {
        JsonLogLayer {
            make_writer,
            dispatch: OnceLock::new(),
        }
    }
}

/// A span's fields, kept in its extensions.
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut JsonVisitor(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert(
            "level".into(),
            Value::from(event.metadata().level().as_str()),
        );
        let mut innermost = None;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                innermost = Some((span.id(), span.name()));
            }
        }
        if let Some((_, name)) = &innermost {
            line.insert("span".into(), Value::from(*name));
        }
        event.record(&mut JsonVisitor(&mut line));
        let dispatch = self.dispatch.get().and_then(WeakDispatch::upgrade);
        if let (Some((id, _)), Some(dispatch)) = (&innermost, dispatch)
            && let Some(context) = tracing_opentelemetry::get_otel_context(id, &dispatch)
        {
            let span_context = context.span().span_context().clone();
            if span_context.is_valid() {
                line.insert(
                    "trace_id".into(),
                    Value::from(span_context.trace_id().to_string()),
                );
                line.insert(
                    "span_id".into(),
                    Value::from(span_context.span_id().to_string()),
                );
            }
        }
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let _ = self.make_writer.make_writer().write_all(text.as_bytes());
    }
}
