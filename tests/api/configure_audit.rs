//! `configure apply`'s audit trail against the simulator's Integrations API faults: every write
//! Genesys accepted is recorded, a part-way apply with how it ended, before the wait for
//! activation; an unwritable log stops apply before any write; and the log's head, carried by
//! each SNS record and by `status`, shows a tail removed, edited or rewritten.

use crate::configure::{
    Ran, apply_request, audit_path, configure_cmd, desired_file, sha256_hex, status_request,
    verify_request,
};
use crate::helpers::{Recording, demo_sim, sim_client};
use genesys_eventbridge::cli::configure::{Request, Terminal, run_with};
use genesys_eventbridge::configure::ActivationWait;
use gev_genesys::HttpSettings;
use gev_sim::RunningSim;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sets the simulator's Integrations API faults (`PUT /sim/integrations/faults`).
async fn integration_faults(sim: &RunningSim, faults: Value) {
    let answer = reqwest::Client::new()
        .put(format!("{}/sim/integrations/faults", sim.base_url()))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

/// The audit log's lines, as JSON.
fn records(audit_log: &Path) -> Vec<Value> {
    std::fs::read_to_string(audit_log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// An apply whose activation wait is `wait`.
fn apply_waiting(file: &Path, audit_log: &Path, wait: Duration) -> Request {
    let mut request = apply_request(file, audit_log);
    if let Request::Apply { activation, .. } = &mut request {
        *activation = ActivationWait {
            timeout: wait,
            interval: Duration::from_millis(20),
        };
    }
    request
}

/// Runs `request` with a notifier that keeps what it is given in `published`.
async fn configure_published(
    sim: &RunningSim,
    request: Request,
    published: &Arc<Mutex<Vec<String>>>,
) -> i32 {
    let client = sim_client(&sim.base_url(), HttpSettings::default());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let sink = published.clone();
    let mut terminal = Terminal {
        aws: genesys_eventbridge::cli::configure::sdk_connector(),
        notifier: Box::new(move |_: &str| {
            let sink = sink.clone();
            Box::pin(async move {
                Box::new(Recording(sink)) as Box<dyn genesys_eventbridge::notify::ChangeNotifier>
            })
        }),
        out: &mut out,
        err: &mut err,
        who: "demo-client".into(),
        interactive: false,
    };
    run_with(request, &client, &mut terminal).await
}

/// An apply that publishes each record to SNS (recorded in memory).
fn apply_notifying(file: &Path, audit_log: &Path) -> Request {
    let mut request = apply_request(file, audit_log);
    if let Request::Apply {
        notify_topic_arn, ..
    } = &mut request
    {
        *notify_topic_arn = Some("arn:aws:sns:eu-west-1:123456789012:integration-changes".into());
    }
    request
}

#[tokio::test]
async fn an_integration_that_reports_error_after_enabling_exits_1_with_its_change_and_the_failure_recorded()
 {
    let sim = demo_sim().await;
    integration_faults(&sim, json!({"reportedAfterEnabling": "ERROR"})).await;
    let audit_log = audit_path();

    let applied = configure_cmd(&sim, apply_request(&desired_file(json!({})), &audit_log)).await;

    assert_eq!(applied.code, 1, "{}{}", applied.out, applied.err);
    assert!(applied.err.contains("reports ERROR"), "{}", applied.err);
    let lines = records(&audit_log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["action"], "create");
    assert_eq!(lines[0]["outcome"], "applied");
    assert_eq!(lines[0]["versionAfter"], 2);
    assert_eq!(lines[1]["action"], "activation");
    assert_eq!(lines[1]["outcome"], "applied, activation failed: ERROR");
    let verified = configure_cmd(&sim, verify_request(&audit_log, None)).await;
    assert_eq!(verified.code, 0, "{}", verified.err);
}

#[tokio::test]
async fn an_integration_that_never_becomes_active_exits_1_when_the_wait_runs_out_with_its_change_recorded()
 {
    let sim = demo_sim().await;
    integration_faults(&sim, json!({"reportedAfterEnabling": "ACTIVATING"})).await;
    let audit_log = audit_path();
    let file = desired_file(json!({}));

    let started = std::time::Instant::now();
    let applied = configure_cmd(
        &sim,
        apply_waiting(&file, &audit_log, Duration::from_millis(300)),
    )
    .await;

    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(applied.code, 1, "{}{}", applied.out, applied.err);
    let lines = records(&audit_log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["outcome"], "applied");
    assert!(
        lines[1]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("applied, activation timed out: still ACTIVATING"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_failed_enable_after_the_configuration_was_written_exits_1_and_is_recorded_as_partial() {
    let sim = demo_sim().await;
    let audit_log = audit_path();
    let disabled = desired_file(json!({"enabled": false}));
    configure_cmd(&sim, apply_request(&disabled, &audit_log)).await;
    integration_faults(&sim, json!({"patchStatus": 400})).await;

    let applied = configure_cmd(
        &sim,
        apply_request(&desired_file(json!({"notes": "now on"})), &audit_log),
    )
    .await;

    assert_eq!(applied.code, 1, "{}{}", applied.out, applied.err);
    let lines = records(&audit_log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["action"], "update");
    assert_eq!(
        (&lines[1]["versionBefore"], &lines[1]["versionAfter"]),
        (&json!(2), &json!(3))
    );
    let outcome = lines[1]["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with(
            "partial: configuration written (version 2 -> 3) accepted; enabling it (intendedState ENABLED) failed"
        ),
        "{outcome}"
    );
}

#[tokio::test]
async fn a_create_whose_configuration_write_fails_exits_1_and_is_recorded_as_a_partial_create() {
    let sim = demo_sim().await;
    integration_faults(&sim, json!({"putStatus": 400})).await;
    let audit_log = audit_path();

    let applied = configure_cmd(&sim, apply_request(&desired_file(json!({})), &audit_log)).await;

    assert_eq!(applied.code, 1, "{}{}", applied.out, applied.err);
    let created = sim.simulator.integration_ids();
    assert_eq!(created.len(), 1);
    let lines = records(&audit_log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["action"], "create");
    assert_eq!(lines[0]["integrationId"], json!(created[0]));
    let outcome = lines[0]["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with("partial: created accepted; writing the configuration failed"),
        "{outcome}"
    );
}

#[tokio::test]
async fn an_unwritable_audit_log_stops_apply_before_anything_is_written_to_genesys() {
    let sim = demo_sim().await;
    let audit_log = std::env::temp_dir()
        .join(format!("no-such-dir-{:016x}", fastrand::u64(..)))
        .join("audit.jsonl");

    let applied = configure_cmd(&sim, apply_request(&desired_file(json!({})), &audit_log)).await;

    assert_eq!(applied.code, 2, "{}{}", applied.out, applied.err);
    assert!(
        applied.err.contains("nothing was written to Genesys Cloud"),
        "{}",
        applied.err
    );
    assert!(sim.simulator.integration_writes().is_empty());
}

/// A notifier that refuses every record.
struct Refusing;

#[async_trait::async_trait]
impl genesys_eventbridge::notify::ChangeNotifier for Refusing {
    async fn notify(&self, _: &str) -> Result<(), genesys_eventbridge::notify::NotifyError> {
        Err(genesys_eventbridge::notify::NotifyError {
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:integration-changes".into(),
            source: "refused".into(),
        })
    }
}

#[tokio::test]
async fn a_record_that_cannot_be_published_exits_1_after_the_change_and_its_audit_line() {
    let sim = demo_sim().await;
    let audit_log = audit_path();
    let request = apply_notifying(&desired_file(json!({})), &audit_log);
    let client = sim_client(&sim.base_url(), HttpSettings::default());
    let (mut out, mut err) = (Vec::new(), Vec::new());

    let code = {
        let mut terminal = Terminal {
            aws: genesys_eventbridge::cli::configure::sdk_connector(),
            notifier: Box::new(|_: &str| {
                Box::pin(async {
                    Box::new(Refusing) as Box<dyn genesys_eventbridge::notify::ChangeNotifier>
                })
            }),
            out: &mut out,
            err: &mut err,
            who: "demo-client".into(),
            interactive: false,
        };
        run_with(request, &client, &mut terminal).await
    };

    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        err,
        "configure: SNS Publish to arn:aws:sns:eu-west-1:123456789012:integration-changes \
         failed: refused\n"
    );
    let lines = records(&audit_log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["outcome"], "applied");
    assert!(out.contains("recorded in "), "{out}");
    assert!(out.ends_with("reported state ACTIVE\n"), "{out}");
}

#[tokio::test]
async fn an_absurd_activation_wait_is_cut_short_and_the_apply_finishes_recorded() {
    let sim = demo_sim().await;
    let audit_log = audit_path();
    let file = desired_file(json!({}));

    let applied = configure_cmd(
        &sim,
        apply_waiting(&file, &audit_log, Duration::from_secs(u64::MAX)),
    )
    .await;

    assert_eq!(applied.code, 0, "{}{}", applied.out, applied.err);
    assert!(
        applied.out.contains("reported state ACTIVE"),
        "{}",
        applied.out
    );
    assert_eq!(records(&audit_log).len(), 1);
}

#[tokio::test]
async fn the_binary_refuses_an_absurd_wait_seconds_before_writing_anything() {
    let sim = demo_sim().await;
    let (file, audit_log) = (desired_file(json!({})), audit_path());

    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_genesys-eventbridge"))
        .args([
            "configure",
            "apply",
            "--yes",
            "--wait-seconds",
            "18446744073709551615",
        ])
        .arg("--file")
        .arg(&file)
        .arg("--audit-log")
        .arg(&audit_log)
        .env("GENESYS_CLOUD_BASE_URL", sim.base_url())
        .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
        .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
        .env_remove("GENESYS_CLOUD_REGION")
        .env_remove("GENESYS_CLOUD_CREDENTIALS_SECRET_ARN")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("configure apply finishes")
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--wait-seconds"), "{stderr}");
    assert!(sim.simulator.integration_writes().is_empty());
}

/// Two applies publishing their records: the log, the head it ends with, and what was published.
async fn two_published_applies(sim: &RunningSim) -> (std::path::PathBuf, String, Vec<String>) {
    let audit_log = audit_path();
    let published = Arc::new(Mutex::new(Vec::new()));
    for changes in [json!({}), json!({"notes": "second"})] {
        let code = configure_published(
            sim,
            apply_notifying(&desired_file(changes), &audit_log),
            &published,
        )
        .await;
        assert_eq!(code, 0);
    }
    let text = std::fs::read_to_string(&audit_log).unwrap();
    let head = sha256_hex(text.lines().last().unwrap());
    let published = published.lock().unwrap().clone();
    (audit_log, head, published)
}

/// `audit verify --expect-head HEAD` after `tamper` changed the log's text.
async fn verify_tampered(tamper: impl FnOnce(&str) -> String) -> (Ran, String) {
    let sim = demo_sim().await;
    let (audit_log, head, _) = two_published_applies(&sim).await;
    let text = std::fs::read_to_string(&audit_log).unwrap();
    std::fs::write(&audit_log, tamper(&text)).unwrap();
    (
        configure_cmd(&sim, verify_request(&audit_log, Some(&head))).await,
        head,
    )
}

fn assert_head_mismatch(verified: &Ran, expected: &str) {
    assert_eq!(verified.code, 3, "{}{}", verified.out, verified.err);
    assert!(
        verified
            .err
            .contains(&format!("not the expected {expected}")),
        "{}",
        verified.err
    );
}

#[tokio::test]
async fn each_published_record_and_status_carry_the_audit_logs_head_which_verify_accepts() {
    let sim = demo_sim().await;
    let (audit_log, head, published) = two_published_applies(&sim).await;

    let status = configure_cmd(
        &sim,
        status_request(&desired_file(json!({"notes": "second"})), &audit_log),
    )
    .await;
    let verified = configure_cmd(&sim, verify_request(&audit_log, Some(&head))).await;

    let last: Value = serde_json::from_str(published.last().unwrap()).unwrap();
    assert_eq!(last["head"], json!(head));
    assert!(
        status.out.contains(&format!("2 record(s), head {head}")),
        "{}",
        status.out
    );
    assert_eq!(verified.code, 0, "{}", verified.err);
    assert!(verified.out.contains("as expected"), "{}", verified.out);
}

#[tokio::test]
async fn verify_against_the_published_head_detects_a_deleted_last_line() {
    let (verified, head) = verify_tampered(|text| {
        let first = text.lines().next().unwrap();
        format!("{first}\n")
    })
    .await;

    assert_head_mismatch(&verified, &head);
}

#[tokio::test]
async fn verify_against_the_published_head_detects_an_edited_last_line() {
    let (verified, head) = verify_tampered(|text| {
        let lines: Vec<&str> = text.lines().collect();
        let forged = lines[1].replace("\"who\":\"demo-client\"", "\"who\":\"someone-else\"");
        assert_ne!(forged, lines[1]);
        format!("{}\n{forged}\n", lines[0])
    })
    .await;

    assert_head_mismatch(&verified, &head);
}

#[tokio::test]
async fn verify_against_the_published_head_detects_an_emptied_log_and_one_cut_mid_line() {
    let (emptied, emptied_head) = verify_tampered(|_| String::new()).await;
    let (cut, cut_head) = verify_tampered(|text| text[..text.len() / 2].to_owned()).await;

    assert_head_mismatch(&emptied, &emptied_head);
    assert!(emptied.out.contains("0 record(s)"), "{}", emptied.out);
    assert_head_mismatch(&cut, &cut_head);
    assert!(cut.err.contains("cut short"), "{}", cut.err);
}

#[tokio::test]
async fn verify_against_the_published_head_detects_a_chain_rehashed_from_scratch() {
    let (verified, head) = verify_tampered(|text| {
        let mut prev = "0".repeat(64);
        let mut forged = String::new();
        for line in text.lines() {
            let mut record: Value = serde_json::from_str(line).unwrap();
            record["who"] = json!("someone-else");
            record["prev"] = json!(prev);
            let line = record.to_string();
            prev = sha256_hex(&line);
            forged.push_str(&line);
            forged.push('\n');
        }
        forged
    })
    .await;

    assert_head_mismatch(&verified, &head);
}

#[tokio::test]
async fn a_record_cut_short_by_a_crash_is_reported_and_the_next_apply_starts_a_new_line() {
    let sim = demo_sim().await;
    let audit_log = audit_path();
    configure_cmd(&sim, apply_request(&desired_file(json!({})), &audit_log)).await;
    let mut text = std::fs::read_to_string(&audit_log).unwrap();
    text.push_str("{\"time\":\"2026-12-05T22:30:");
    std::fs::write(&audit_log, &text).unwrap();

    let cut = configure_cmd(&sim, verify_request(&audit_log, None)).await;
    let applied = configure_cmd(
        &sim,
        apply_request(
            &desired_file(json!({"notes": "after the crash"})),
            &audit_log,
        ),
    )
    .await;
    let after = configure_cmd(&sim, verify_request(&audit_log, None)).await;

    assert_eq!(cut.code, 3);
    assert!(
        cut.err.contains("line 2, the last, is cut short"),
        "{}",
        cut.err
    );
    assert_eq!(applied.code, 0, "{}{}", applied.out, applied.err);
    let lines: Vec<String> = std::fs::read_to_string(&audit_log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let third: Value = serde_json::from_str(&lines[2]).unwrap();
    assert_eq!(third["prev"], json!(sha256_hex(&lines[0])));
    assert_eq!(after.code, 3);
    assert!(
        after.err.contains("line 2 is not a complete record"),
        "{}",
        after.err
    );
    assert!(!after.err.contains("line 3"), "{}", after.err);
}
