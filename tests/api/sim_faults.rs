//! The simulator's fault injection: what each fault does, and that a seed repeats a run.

use crate::fixtures::TestApp;
use gev_sim::Faults;
use serde_json::{Value, json};

const ELIGIBLE: &str = "6f1c2a9e-0b1d-4c55-9e2a-3a1f5c7d8e01";

/// Where the eligible interaction is read and written.
fn eligible() -> String {
    format!("/api/v2/interactions/{ELIGIBLE}")
}

/// The body of a disposition write of `code`.
fn disposition(code: &str) -> Value {
    json!({"dispositionCode": {"id": code}})
}

/// The demo simulator injecting `faults`.
async fn sim(faults: Faults) -> TestApp {
    TestApp::builder().faults(faults).spawn().await
}

/// The statuses of `requests` reads of the eligible interaction, each with a fresh token.
async fn statuses(app: &TestApp, requests: usize) -> Vec<u16> {
    let mut seen = Vec::new();
    for _ in 0..requests {
        let response = app.api().await.get(&eligible()).send().await.unwrap();
        seen.push(response.status().as_u16());
    }
    seen
}

#[test]
fn a_fault_spec_is_parsed_and_checked() {
    let faults = Faults::parse("rateLimited=0.1, serverError=0.05, timeoutMs=200, seed=9").unwrap();
    assert_eq!(faults.rate_limited, 0.1);
    assert_eq!(faults.timeout_ms, 200);
    assert_eq!(faults.seed, 9);
    assert!(
        Faults::parse("rateLimited=0.7,serverError=0.7")
            .unwrap_err()
            .to_string()
            .contains("add up")
    );
    assert!(Faults::parse("explode=1").is_err());
}

#[tokio::test]
async fn the_same_seed_repeats_the_same_faults() {
    let faults = Faults {
        seed: 42,
        rate_limited: 0.3,
        server_error: 0.3,
        ..Default::default()
    };
    let first = statuses(&sim(faults.clone()).await, 40).await;
    let second = statuses(&sim(faults).await, 40).await;

    assert_eq!(first, second);
    assert!(
        first.contains(&429) && first.contains(&503) && first.contains(&200),
        "{first:?}"
    );
}

#[tokio::test]
async fn a_rate_limit_fault_carries_retry_after() {
    let app = sim(Faults {
        rate_limited: 1.0,
        retry_after_seconds: 2.0,
        ..Default::default()
    })
    .await;
    let api = app.api().await;

    let response = api.get(&eligible()).send().await.unwrap();

    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
}

#[tokio::test]
async fn a_conflict_fault_means_a_concurrent_writer_won() {
    let app = sim(Faults {
        conflict: 1.0,
        ..Default::default()
    })
    .await;
    let api = app.api().await;

    let response = api
        .patch(&eligible())
        .json(&disposition("ours"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 409);
    let count = app.sim.simulator.patch_counts()[ELIGIBLE];
    assert_eq!((count.applied, count.foreign), (0, 1));
    assert_eq!(
        app.sim.simulator.interaction(ELIGIBLE).unwrap()["dispositionCode"]["id"],
        gev_sim::FOREIGN_CODE
    );
}

#[tokio::test]
async fn a_timeout_fault_applies_the_write_and_loses_the_answer() {
    let app = sim(Faults {
        timeout: 1.0,
        timeout_ms: 2_000,
        ..Default::default()
    })
    .await;
    let api = app.api().await;

    let result = api
        .patch(&eligible())
        .timeout(std::time::Duration::from_millis(300))
        .json(&disposition("ours"))
        .send()
        .await;

    assert!(result.unwrap_err().is_timeout());
    assert_eq!(app.sim.simulator.patch_counts()[ELIGIBLE].applied, 1);
}

#[tokio::test]
async fn a_bad_gateway_fault_applies_the_write_then_answers_502() {
    let app = sim(Faults {
        bad_gateway_after_write: 1.0,
        ..Default::default()
    })
    .await;
    let api = app.api().await;

    let read = api.get(&eligible()).send().await.unwrap();
    let written = api
        .patch(&eligible())
        .json(&disposition("ours"))
        .send()
        .await
        .unwrap();

    assert_eq!(
        read.status(),
        200,
        "reads are never answered 502 by this fault"
    );
    assert_eq!(written.status(), 502);
    assert_eq!(app.sim.simulator.patch_counts()[ELIGIBLE].applied, 1);
    assert_eq!(
        app.sim.simulator.interaction(ELIGIBLE).unwrap()["dispositionCode"]["id"],
        "ours"
    );
}

#[tokio::test]
async fn a_stale_read_answers_what_it_saw_before_a_write_that_landed_meanwhile() {
    let app = sim(Faults::default()).await;
    let mut seeded = app.sim.simulator.interaction(ELIGIBLE).unwrap();
    seeded["x-sim"] = json!({"staleReadMs": 200, "statusAfterWrite": 502});
    app.sim
        .simulator
        .put_interaction(seeded.as_object().unwrap().clone())
        .unwrap();
    let api = app.api().await;

    let read = api.get(&eligible()).send();
    let write = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        api.patch(&eligible())
            .json(&disposition("ours"))
            .send()
            .await
    };
    let (read, write) = tokio::join!(read, write);

    assert_eq!(write.unwrap().status(), 502, "applied, then answered 502");
    let seen: Value = read.unwrap().json().await.unwrap();
    assert!(seen["dispositionCode"].is_null(), "{seen}");
    assert_eq!(app.sim.simulator.patch_counts()[ELIGIBLE].applied, 1);
}

#[tokio::test]
async fn a_token_revocation_fault_invalidates_every_token() {
    let app = sim(Faults::default()).await;
    let api = app.api().await;
    app.sim.simulator.set_faults(Faults {
        token_revoked: 1.0,
        ..Default::default()
    });

    let revoked = api.get(&eligible()).send().await.unwrap();
    app.sim.simulator.set_faults(Faults::default());
    let after = api.get(&eligible()).send().await.unwrap();

    assert_eq!(revoked.status(), 401);
    assert_eq!(after.status(), 401, "the old token stays revoked");
}

#[tokio::test]
async fn faults_are_counted_and_readable_over_http() {
    let app = sim(Faults {
        server_error: 1.0,
        ..Default::default()
    })
    .await;
    statuses(&app, 3).await;

    let body: Value = reqwest::get(format!("{}/sim/faults", app.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(body["injected"]["serverError"], 3);
    assert_eq!(body["faults"]["serverError"], 1.0);
}

#[tokio::test]
async fn a_token_outage_refuses_every_client_until_it_ends() {
    let app = sim(Faults {
        token_refused_ms: 300,
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let ask = || {
        http.post(format!("{}/oauth/token", app.base_url()))
            .basic_auth("demo-client", Some("demo-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };

    let during = ask().await.unwrap().status();
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    let after = ask().await.unwrap().status();

    assert_eq!(during, 401);
    assert_eq!(after, 200);
    assert_eq!(app.sim.simulator.faults().1.get("tokenRefused"), Some(&1));
}

#[tokio::test]
async fn a_server_error_after_write_fault_applies_the_write_then_answers_500_or_504() {
    let app = sim(Faults {
        server_error_after_write: 1.0,
        ..Default::default()
    })
    .await;
    let api = app.api().await;

    let response = api
        .patch(&eligible())
        .json(&disposition("d-1"))
        .send()
        .await
        .unwrap();

    assert!(
        [500, 504].contains(&response.status().as_u16()),
        "{}",
        response.status()
    );
    assert_eq!(app.sim.simulator.patch_counts()[ELIGIBLE].applied, 1);
}
