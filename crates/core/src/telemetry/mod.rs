//! Tracing and OpenTelemetry set-up, owned in one place: logs, spans, export, flush, metrics lines.
//!
//! Configured only by the standard variables: `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER`,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (and the exporter's other
//! `OTEL_EXPORTER_OTLP_*` settings), `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` only),
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_PROPAGATORS`.

pub mod emf;
pub mod json_log;
pub mod propagation;
mod settings;
pub mod tree;

pub(crate) use settings::OtelSettings;
pub use settings::TelemetryConfigError;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The tracing targets of the workspace's spans (each crate's name): only these become
/// OpenTelemetry spans.
pub(crate) const TARGETS: [&str; 4] = [
    "gev_core",
    "gev_genesys",
    "gev_consumer",
    "genesys_eventbridge",
];

/// Where the process runs, which decides the log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// Inside Lambda: one JSON object per line on stdout (CloudWatch Logs), with span fields and
    /// trace ids.
    Lambda,
    /// A command-line tool: human-readable lines on stderr, so stdout stays machine-readable.
    Terminal,
}

/// True inside a Lambda execution environment (or `cargo lambda watch`).
pub(crate) fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// Records `error` on `span` as one OpenTelemetry `exception` event and sets the span's status
/// to ERROR. Call it once, on the span of the step where the error surfaced.
pub fn record_exception(
    span: &tracing::Span,
    kind: &'static str,
    error: &(dyn std::error::Error + 'static),
) {
    let message = crate::error_chain(error);
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", kind),
            KeyValue::new("exception.message", message.clone()),
        ],
    );
    span.set_status(Status::error(message));
}

/// The OpenTelemetry trace id of `span`, when tracing is on.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Sets `span`'s status to ERROR without an exception event (the exception is on a child).
pub fn mark_error(span: &tracing::Span, description: impl Into<std::borrow::Cow<'static, str>>) {
    span.set_status(Status::error(description));
}

/// Which logs are written: `RUST_LOG` (`level` or `target=level` directives, comma-separated),
/// else `AWS_LAMBDA_LOG_LEVEL`, else `default_level`. A malformed value is ignored.
fn log_filter(default_level: &str) -> Targets {
    let parse = |text: &str| text.trim().parse::<Targets>().ok();
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| parse(&directives))
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .and_then(|level| parse(&level.to_ascii_lowercase()))
        })
        .or_else(|| parse(default_level))
        .unwrap_or_default()
}

/// The OpenTelemetry layer over this crate's spans, as production and tests install it.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("genesys-eventbridge"))
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        .with_filter(
            Targets::new().with_targets(TARGETS.map(|target| (target, tracing::Level::INFO))),
        )
}

/// The running telemetry: flush it after every invocation, shut it down at exit.
#[derive(Debug, Clone)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    exporting: bool,
    xray_parent: bool,
    collector: Option<tree::SpanCollector>,
    /// True while a flush runs (it may outlive the wait for it).
    flushing: Arc<AtomicBool>,
}

/// What to set up besides the standard variables.
#[derive(Debug, Clone, Copy)]
pub struct TelemetryOptions {
    /// Where logs go.
    pub log_target: LogTarget,
    /// Used when neither `RUST_LOG` nor `AWS_LAMBDA_LOG_LEVEL` is set.
    pub default_level: &'static str,
    /// Keep finished spans in memory for drawing trees (`invoke --trace-tree`).
    pub collect_spans: bool,
}

impl Telemetry {
    /// Installs the global subscriber (logs, and OpenTelemetry spans) and, when an OTLP endpoint
    /// is configured, a batch exporter. Spans are built only when they go somewhere (an exporter,
    /// or `collect_spans`): with no endpoint, or with `OTEL_SDK_DISABLED`, none are, and logs
    /// carry no trace ids.
    pub fn init(options: TelemetryOptions) -> Result<Self, TelemetryConfigError> {
        let settings = OtelSettings::from_env()?;
        let traced = settings.enabled && (settings.export || options.collect_spans);
        let provider = traced.then(|| {
            let mut builder = SdkTracerProvider::builder().with_resource(settings.resource());
            if settings.uses_xray() {
                builder = builder.with_id_generator(XrayIdGenerator::default());
            }
            builder
        });
        let collector = options.collect_spans.then(tree::SpanCollector::default);
        let provider = match provider {
            Some(mut builder) => {
                if settings.export {
                    let exporter = opentelemetry_otlp::SpanExporter::builder()
                        .with_http()
                        .build()
                        .map_err(|error| TelemetryConfigError {
                            name: "OTEL_EXPORTER_OTLP_ENDPOINT",
                            problem: crate::error_chain(&error),
                        })?;
                    builder = builder.with_batch_exporter(exporter);
                }
                if let Some(collector) = &collector {
                    builder = builder.with_simple_exporter(collector.clone());
                }
                opentelemetry::global::set_text_map_propagator(settings.propagator());
                Some(builder.build())
            }
            None => None,
        };

        let filter = log_filter(options.default_level);
        let log_layer = match options.log_target {
            LogTarget::Lambda => json_log::JsonLogLayer::new(std::io::stdout)
                .with_filter(filter)
                .boxed(),
            LogTarget::Terminal => tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_filter(filter)
                .boxed(),
        };
        let registry = tracing_subscriber::registry().with(log_layer);
        // An already installed subscriber (tests, repeated calls) is left alone.
        let _ = match &provider {
            Some(provider) => registry.with(otel_layer(provider)).try_init(),
            None => registry.try_init(),
        };
        Ok(Telemetry {
            provider,
            exporting: settings.export,
            xray_parent: settings.uses_xray(),
            collector,
            flushing: Arc::default(),
        })
    }

    /// Telemetry for tests: spans go to `collector` only; no global state is touched.
    pub fn for_tests(provider: SdkTracerProvider, collector: tree::SpanCollector) -> Self {
        Telemetry {
            provider: Some(provider),
            exporting: true,
            xray_parent: false,
            collector: Some(collector),
            flushing: Arc::default(),
        }
    }

    /// The same telemetry, taking an incoming X-Ray context as `relation` says.
    pub fn with_xray_context(mut self, relation: propagation::Incoming) -> Self {
        self.xray_parent = relation == propagation::Incoming::Parent;
        self
    }

    /// How an incoming X-Ray context relates to the invocation's span: the parent when
    /// `OTEL_PROPAGATORS` has `xray`, else a link.
    pub fn xray_context(&self) -> propagation::Incoming {
        if self.xray_parent {
            propagation::Incoming::Parent
        } else {
            propagation::Incoming::Link
        }
    }

    /// Exports every finished span now. Runs the blocking flush off the async threads, so it
    /// cannot stall the runtime, even a current-thread one. Waits at most `timeout`; while an
    /// earlier flush still runs (a slow or unreachable collector), skips this one.
    pub async fn flush(&self, timeout: Duration) {
        let Some(provider) = self.provider.clone().filter(|_| self.exporting) else {
            return;
        };
        if self.flushing.swap(true, Ordering::AcqRel) {
            tracing::debug!("an earlier span flush is still running; not flushing again");
            return;
        }
        let flushing = self.flushing.clone();
        let flush = tokio::task::spawn_blocking(move || {
            let result = provider.force_flush();
            flushing.store(false, Ordering::Release);
            result
        });
        match tokio::time::timeout(timeout, flush).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                let error = crate::error_chain(&error);
                tracing::warn!(%error, "exporting spans failed");
            }
            Ok(Err(error)) => tracing::warn!(%error, "the span flush task failed"),
            Err(_) => tracing::warn!(?timeout, "exporting spans took too long; going on"),
        }
    }

    /// The spans collected since the last call (with `collect_spans`).
    pub fn take_spans(&self) -> Vec<opentelemetry_sdk::trace::SpanData> {
        self.collector
            .as_ref()
            .map(tree::SpanCollector::take)
            .unwrap_or_default()
    }

    /// Flushes and stops the exporter (process exit).
    pub fn shutdown(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.shutdown()
        {
            tracing::debug!(%error, "telemetry shutdown");
        }
    }
}
