//! The scheduled reconcile Lambda (template.yaml `ReconcileFunction`): its settings and ports from the environment, then one reconcile run per invocation, its counts as an EMF line.

use chrono::Utc;
use genesys_eventbridge::reconcile::wiring::{self, Ports};
use genesys_eventbridge::reconcile::{CallRecords, emf_line, reconcile};
use gev_core::telemetry::{LogTarget, Telemetry, TelemetryOptions, emf};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let telemetry = Telemetry::init(TelemetryOptions {
        log_target: LogTarget::Lambda,
        default_level: "info",
        collect_spans: false,
    })
    .unwrap_or_else(|error| fail(&error));
    let bus = std::env::var("EVENT_BUS_NAME").unwrap_or_else(|_| "default".into());
    let ports = Ports::from_env(&bus)
        .await
        .unwrap_or_else(|error| fail(&error));
    let namespace =
        std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| emf::DEFAULT_NAMESPACE.to_owned());
    let (ports, namespace) = (&ports, &namespace);
    let result = lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let now = Utc::now();
        let settings = wiring::scheduled_settings(
            |name| std::env::var(name).ok(),
            || wiring::queues(&[]),
            now,
        )?;
        let records = ports.records.as_ref().map(|r| r as &dyn CallRecords);
        let report = reconcile(&ports.analytics, records, &ports.sink, &settings, now).await?;
        println!("{}", emf_line(&report, namespace, now.timestamp_millis()));
        if report.refused() > 0 {
            // A failed invocation: the errors alarm tells, and the next run tries again.
            return Err(format!("the bus refused {} events", report.refused()).into());
        }
        Ok::<Value, lambda_runtime::Error>(json!({
            "examined": report.examined(),
            "alreadyDone": report.already_done(),
            "published": report.published(),
            "rechecked": report.rechecked(),
            "overCap": report.over_cap(),
            "refused": report.refused(),
            "truncated": report.truncated,
        }))
    }))
    .await;
    telemetry.shutdown();
    result
}

/// A bad setting: one line naming it (with its causes), then exit before the first invocation.
fn fail(error: &(dyn std::error::Error + 'static)) -> ! {
    eprintln!("reconcile-lambda: {}", gev_core::error_chain(error));
    std::process::exit(2);
}
