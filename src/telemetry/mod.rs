//! Tracing and OpenTelemetry set-up, owned in one place: logs, spans, export, flush, metrics lines.
//!
//! Configured only by the standard variables: `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER`,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (and the exporter's other
//! `OTEL_EXPORTER_OTLP_*` settings), `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` only),
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_PROPAGATORS`.

pub mod emf;
pub mod json_log;
pub mod propagation;
pub mod tree;

use opentelemetry::KeyValue;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry_aws::trace::{XrayIdGenerator, XrayPropagator};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
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

/// The tracing target of this crate's spans: only these become OpenTelemetry spans.
pub const TARGET: &str = "genesys_eventbridge";

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
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// A context propagator named in `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    TraceContext,
    Baggage,
    XRay,
}

/// The OpenTelemetry settings of the standard variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelSettings {
    /// False with `OTEL_SDK_DISABLED=true`: no spans at all.
    pub enabled: bool,
    /// True when an OTLP endpoint is configured (and `OTEL_TRACES_EXPORTER` is not `none`).
    pub export: bool,
    pub propagators: Vec<Propagator>,
    /// `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` gives one.
    pub default_service_name: String,
}

/// A malformed telemetry setting; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} is invalid: {problem}")]
pub struct TelemetryConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl OtelSettings {
    pub fn from_env() -> Result<Self, TelemetryConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TelemetryConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let enabled = !get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let exporter = get("OTEL_TRACES_EXPORTER").unwrap_or_else(|| "otlp".into());
        if !matches!(exporter.as_str(), "otlp" | "none") {
            return Err(TelemetryConfigError {
                name: "OTEL_TRACES_EXPORTER",
                problem: format!("{exporter:?} is not supported; use otlp or none"),
            });
        }
        let protocol = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .map(|v| ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", v))
            .or_else(|| {
                get("OTEL_EXPORTER_OTLP_PROTOCOL").map(|v| ("OTEL_EXPORTER_OTLP_PROTOCOL", v))
            });
        if let Some((name, protocol)) = protocol
            && protocol != "http/protobuf"
        {
            return Err(TelemetryConfigError {
                name,
                problem: format!(
                    "{protocol:?} is not supported; this build exports OTLP over http/protobuf \
                     (port 4318 on a collector)"
                ),
            });
        }
        let endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT"));
        let mut propagators = Vec::new();
        for name in get("OTEL_PROPAGATORS")
            .unwrap_or_else(|| "tracecontext,baggage".into())
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            propagators.push(match name {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "xray" => Propagator::XRay,
                "none" => continue,
                other => {
                    return Err(TelemetryConfigError {
                        name: "OTEL_PROPAGATORS",
                        problem: format!(
                            "{other:?} is not supported; use tracecontext, baggage, xray or none"
                        ),
                    });
                }
            });
        }
        let default_service_name =
            get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "genesys-eventbridge".into());
        Ok(OtelSettings {
            enabled,
            export: enabled && exporter == "otlp" && endpoint.is_some(),
            propagators,
            default_service_name,
        })
    }

    fn uses_xray(&self) -> bool {
        self.propagators.contains(&Propagator::XRay)
    }

    fn propagator(&self) -> TextMapCompositePropagator {
        let propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = self
            .propagators
            .iter()
            .map(|propagator| -> Box<dyn TextMapPropagator + Send + Sync> {
                match propagator {
                    Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                    Propagator::Baggage => Box::new(BaggagePropagator::new()),
                    Propagator::XRay => Box::new(XrayPropagator::new()),
                }
            })
            .collect();
        TextMapCompositePropagator::new(propagators)
    }

    fn resource(&self) -> Resource {
        let named_elsewhere = std::env::var_os("OTEL_SERVICE_NAME").is_some()
            || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
        let mut builder = Resource::builder();
        if in_lambda() {
            builder = builder.with_detector(Box::new(
                opentelemetry_aws::detector::LambdaResourceDetector,
            ));
        }
        if !named_elsewhere {
            builder = builder.with_service_name(self.default_service_name.clone());
        }
        builder.build()
    }
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
        .with_filter(Targets::new().with_target(TARGET, tracing::Level::INFO))
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

    /// No spans, no export (tests and tools that do not trace).
    pub fn disabled() -> Self {
        Telemetry {
            provider: None,
            exporting: false,
            xray_parent: false,
            collector: None,
            flushing: Arc::default(),
        }
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

    /// The same telemetry, taking an incoming X-Ray context as the parent (`true`) or as a link.
    pub fn with_xray_parent(mut self, as_parent: bool) -> Self {
        self.xray_parent = as_parent;
        self
    }

    /// Whether an incoming X-Ray context becomes the parent (`OTEL_PROPAGATORS` has `xray`) or a link.
    pub fn xray_as_parent(&self) -> bool {
        self.xray_parent
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<OtelSettings, TelemetryConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OtelSettings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn without_an_endpoint_nothing_is_exported() {
        let settings = settings(&[]).unwrap();
        assert!(settings.enabled);
        assert!(!settings.export);
        assert_eq!(
            settings.propagators,
            [Propagator::TraceContext, Propagator::Baggage]
        );
    }

    #[test]
    fn an_endpoint_turns_export_on() {
        assert!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")])
                .unwrap()
                .export
        );
        assert!(
            settings(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c/v1/traces")])
                .unwrap()
                .export
        );
    }

    #[test]
    fn the_sdk_can_be_disabled() {
        let settings = settings(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ])
        .unwrap();
        assert!(!settings.enabled);
        assert!(!settings.export);
    }

    #[test]
    fn the_none_exporter_turns_export_off() {
        let settings = settings(&[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ])
        .unwrap();
        assert!(!settings.export);
    }

    #[test]
    fn grpc_is_refused_naming_the_variable() {
        let error = settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err();
        assert_eq!(error.name, "OTEL_EXPORTER_OTLP_PROTOCOL");
    }

    #[test]
    fn xray_is_a_known_propagator() {
        let settings = settings(&[("OTEL_PROPAGATORS", "tracecontext, xray")]).unwrap();
        assert_eq!(
            settings.propagators,
            [Propagator::TraceContext, Propagator::XRay]
        );
        assert!(settings.uses_xray());
    }

    #[test]
    fn an_unknown_propagator_is_named() {
        let error = settings(&[("OTEL_PROPAGATORS", "b3")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "OTEL_PROPAGATORS is invalid: \"b3\" is not supported; use tracecontext, baggage, xray or none"
        );
    }
}
