//! The OpenTelemetry settings of the standard `OTEL_*` variables: whether and where spans go, which propagators, the resource.

use super::in_lambda;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// A context propagator named in `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// AWS X-Ray `X-Amzn-Trace-Id`.
    XRay,
}

/// The OpenTelemetry settings of the standard variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtelSettings {
    /// False with `OTEL_SDK_DISABLED=true`: no spans at all.
    pub(crate) enabled: bool,
    /// True when an OTLP endpoint is configured (and `OTEL_TRACES_EXPORTER` is not `none`).
    pub(crate) export: bool,
    /// `OTEL_PROPAGATORS`, in order.
    pub(crate) propagators: Vec<Propagator>,
    /// `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` gives one.
    pub(crate) default_service_name: String,
}

/// A malformed telemetry setting; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} is invalid: {problem}")]
pub struct TelemetryConfigError {
    /// The variable.
    pub(crate) name: &'static str,
    /// What is wrong with it.
    pub(crate) problem: String,
}

impl OtelSettings {
    /// The settings of the process environment.
    pub(crate) fn from_env() -> Result<Self, TelemetryConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings read through `lookup` (the environment, or a map in tests).
    pub(crate) fn from_lookup(
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

    pub(super) fn uses_xray(&self) -> bool {
        self.propagators.contains(&Propagator::XRay)
    }

    pub(super) fn propagator(&self) -> TextMapCompositePropagator {
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

    pub(super) fn resource(&self) -> Resource {
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
