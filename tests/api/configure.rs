//! `configure` against the simulator's Integrations API: create, no-op, topic changes, conflicts,
//! read-only plans, validation, audit, and no secret in any output.

use crate::helpers::{Recording, demo_sim, sim_client};
use genesys_eventbridge::cli::configure::{Request, Terminal, run_with};
use genesys_eventbridge::configure::{self, ActivationWait, ConfigureError};
use gev_core::deadline::Deadline;
use gev_core::domain::integration::parse_spec;
use gev_genesys::HttpSettings;
use gev_sim::RunningSim;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The SHA-256 of `text`, in hex (the audit chain's hash).
pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The desired state of `examples/integration.json`, changed by `changes`, written to a file.
pub(crate) fn desired_file(changes: Value) -> PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/integration.json"
    ))
    .unwrap();
    let mut desired: Value = serde_json::from_str(&text).unwrap();
    for (key, value) in changes.as_object().unwrap() {
        desired[key] = value.clone();
    }
    let path = std::env::temp_dir().join(format!("integration-{:016x}.json", fastrand::u64(..)));
    std::fs::write(&path, desired.to_string()).unwrap();
    path
}

pub(crate) fn audit_path() -> PathBuf {
    std::env::temp_dir().join(format!("audit-{:016x}.jsonl", fastrand::u64(..)))
}

/// What one command printed, and its exit status.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) out: String,
    pub(crate) err: String,
}

pub(crate) async fn configure_cmd(sim: &RunningSim, request: Request) -> Ran {
    let client = sim_client(&sim.base_url(), HttpSettings::default());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = {
        let mut terminal = Terminal {
            aws: genesys_eventbridge::cli::configure::sdk_connector(),
            notifier: genesys_eventbridge::cli::configure::sns_connector(),
            out: &mut out,
            err: &mut err,
            who: "demo-client".into(),
            interactive: false,
        };
        run_with(request, &client, &mut terminal).await
    };
    Ran {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

pub(crate) fn plan_request(file: &Path) -> Request {
    Request::Plan {
        file: file.to_path_buf(),
        exit_code: true,
        json: false,
    }
}

pub(crate) fn apply_request(file: &Path, audit_log: &Path) -> Request {
    Request::Apply {
        file: file.to_path_buf(),
        yes: true,
        audit_log: audit_log.to_path_buf(),
        activation: ActivationWait {
            timeout: Duration::from_secs(5),
            interval: Duration::from_millis(20),
        },
        associate_bus: false,
        notify_topic_arn: None,
    }
}

/// `configure audit verify`, against `expect_head` when given.
pub(crate) fn verify_request(audit_log: &Path, expect_head: Option<&str>) -> Request {
    Request::AuditVerify {
        audit_log: audit_log.to_path_buf(),
        expect_head: expect_head.map(str::to_owned),
    }
}

/// `configure status`, showing the head of `audit_log`.
pub(crate) fn status_request(file: &Path, audit_log: &Path) -> Request {
    Request::Status {
        file: file.to_path_buf(),
        audit_log: audit_log.to_path_buf(),
    }
}

#[tokio::test]
async fn apply_creates_and_enables_the_integration_and_a_second_plan_has_nothing_to_do() {
    let sim = demo_sim().await;
    let (file, audit_log) = (desired_file(json!({})), audit_path());

    let applied = configure_cmd(&sim, apply_request(&file, &audit_log)).await;
    let again = configure_cmd(&sim, plan_request(&file)).await;

    assert_eq!(applied.code, 0, "{}{}", applied.out, applied.err);
    assert!(
        applied.out.contains("reported state ACTIVE"),
        "{}",
        applied.out
    );
    assert_eq!(sim.simulator.integration_ids().len(), 1);
    assert_eq!(again.code, 0, "{}", again.out);
    assert!(again.out.contains("no changes"), "{}", again.out);
}

#[tokio::test]
async fn a_topic_added_and_one_removed_are_planned_with_exit_status_4() {
    let sim = demo_sim().await;
    let audit_log = audit_path();
    configure_cmd(&sim, apply_request(&desired_file(json!({})), &audit_log)).await;
    let changed = desired_file(json!({"topics": [
        "v2.detail.events.conversation.{id}.user.end",
        "v2.detail.events.conversation.{id}.customer.end",
        "v2.detail.events.conversation.{id}.acd.end"
    ]}));

    let plan = configure_cmd(&sim, plan_request(&changed)).await;

    assert_eq!(plan.code, 4);
    assert!(
        plan.out
            .contains("+ topic v2.detail.events.conversation.{id}.acd.end"),
        "{}",
        plan.out
    );
    assert!(
        plan.out
            .contains("- topic v2.detail.events.conversation.{id}.acw"),
        "{}",
        plan.out
    );
}

#[tokio::test]
async fn plan_never_writes() {
    let sim = demo_sim().await;
    let file = desired_file(json!({}));

    let fresh = configure_cmd(&sim, plan_request(&file)).await;
    configure_cmd(&sim, apply_request(&file, &audit_path())).await;
    let writes_after_apply = sim.simulator.integration_writes().len();
    let changed = configure_cmd(&sim, plan_request(&desired_file(json!({"notes": "x"})))).await;

    assert_eq!(fresh.code, 4);
    assert_eq!(changed.code, 4);
    assert_eq!(sim.simulator.integration_writes().len(), writes_after_apply);
    assert!(fresh.out.contains(": create"), "{}", fresh.out);
}

#[tokio::test]
async fn a_change_made_between_plan_and_apply_is_never_overwritten() {
    let sim = demo_sim().await;
    configure_cmd(&sim, apply_request(&desired_file(json!({})), &audit_path())).await;
    let client = sim_client(&sim.base_url(), HttpSettings::default());
    let spec = parse_spec(
        &json!({"name": "Genesys to EventBridge", "awsAccountId": "123456789012",
        "awsRegion": "eu-west-1", "eventSourceSuffix": "dispositions", "notes": "mine",
        "topics": ["v2.detail.events.conversation.{id}.user.end"]})
        .to_string(),
    )
    .unwrap();
    let deadline = Deadline::after(Duration::from_secs(30));
    let found = configure::find(&client, &spec, deadline).await.unwrap();
    let plan = configure::plan_for(&spec, found.as_ref());
    let id = &sim.simulator.integration_ids()[0];
    reqwest::Client::new()
        .put(format!("{}/sim/integrations/{id}/bump", sim.base_url()))
        .send()
        .await
        .unwrap();
    let wait = ActivationWait {
        timeout: Duration::from_secs(1),
        interval: Duration::from_millis(20),
    };

    let result = configure::apply(&client, &spec, &plan, found.as_ref(), wait, deadline).await;

    let error = result.unwrap_err();
    assert!(
        matches!(&error, ConfigureError::Conflict { planned: 2, now: 3, changed } if changed == "notes"),
        "{error}"
    );
    assert_eq!(
        genesys_eventbridge::cli::configure::error_exit_code(&error),
        3
    );
    let config = gev_genesys::integrations::IntegrationsApi::config(
        &client,
        &gev_core::domain::IntegrationId::parse(id).unwrap(),
        deadline,
    )
    .await
    .unwrap();
    assert_eq!(config.notes.as_deref(), Some("changed in the console"));
}

#[tokio::test]
async fn every_problem_of_the_desired_state_is_reported_at_once() {
    let sim = demo_sim().await;
    let local =
        desired_file(json!({"awsAccountId": "12", "awsRegion": "Ireland", "colour": "red"}));
    let remote = desired_file(json!({"topics": [
        "v2.detail.events.conversation.{id}.user.edn",
        "v2.users.{id}.presence"
    ]}));

    let bad_locally = configure_cmd(&sim, plan_request(&local)).await;
    let bad_remotely = configure_cmd(&sim, plan_request(&remote)).await;

    assert_eq!(bad_locally.code, 2);
    for field in ["colour", "awsAccountId", "awsRegion"] {
        assert!(
            bad_locally.err.contains(field),
            "{field}: {}",
            bad_locally.err
        );
    }
    assert_eq!(bad_remotely.code, 2);
    assert!(
        bad_remotely
            .err
            .contains("did you mean \"v2.detail.events.conversation.{id}.user.end\"?"),
        "{}",
        bad_remotely.err
    );
    assert!(
        bad_remotely.err.contains("is not sent to EventBridge"),
        "{}",
        bad_remotely.err
    );
}

#[tokio::test]
async fn local_and_remote_problems_of_the_desired_state_are_all_reported_in_one_run() {
    let sim = demo_sim().await;
    let file = desired_file(json!({
        "awsAccountId": "12",
        "eventSourceSuffix": "bad suffix!",
        "topics": [
            "v2.detail.events.conversation.{id}.user.ended",
            "v2.users.{id}.presence",
            "v2.detail.events.conversation.{id}.user.end"
        ]
    }));

    let planned = configure_cmd(&sim, plan_request(&file)).await;
    let applied = configure_cmd(&sim, apply_request(&file, &audit_path())).await;

    for ran in [&planned, &applied] {
        assert_eq!(ran.code, 2, "{}{}", ran.out, ran.err);
        for expected in [
            "awsAccountId: \"12\" is not a 12-digit AWS account id",
            "eventSourceSuffix: must be at most 64",
            "topics[0]: \"v2.detail.events.conversation.{id}.user.ended\" is not a Genesys Cloud \
             topic; did you mean \"v2.detail.events.conversation.{id}.user.end\"?",
            "topics[1]: \"v2.users.{id}.presence\" is not sent to EventBridge (transports: Websocket)",
        ] {
            assert!(ran.err.contains(expected), "{expected}: {}", ran.err);
        }
        assert!(!ran.err.contains("topics[2]"), "{}", ran.err);
        assert!(ran.err.contains("4 problem(s)"), "{}", ran.err);
    }
    assert!(sim.simulator.integration_writes().is_empty());
}

#[tokio::test]
async fn no_secret_or_token_reaches_any_output_or_the_audit_log() {
    let sim = demo_sim().await;
    let (file, audit_log) = (desired_file(json!({})), audit_path());

    let applied = configure_cmd(&sim, apply_request(&file, &audit_log)).await;

    let audit = std::fs::read_to_string(&audit_log).unwrap();
    for text in [&applied.out, &applied.err, &audit] {
        assert!(!text.contains("demo-secret"), "{text}");
        assert!(!text.contains("sim-token-"), "{text}");
    }
    assert!(audit.contains("\"who\":\"demo-client\""), "{audit}");
}

#[tokio::test]
async fn a_tampered_audit_log_fails_verification_at_the_first_broken_line() {
    let sim = demo_sim().await;
    let audit_log = audit_path();
    configure_cmd(&sim, apply_request(&desired_file(json!({})), &audit_log)).await;
    configure_cmd(
        &sim,
        apply_request(&desired_file(json!({"notes": "second"})), &audit_log),
    )
    .await;
    let text = std::fs::read_to_string(&audit_log).unwrap();
    std::fs::write(
        &audit_log,
        text.replacen("\"action\":\"create\"", "\"action\":\"update\"", 1),
    )
    .unwrap();

    let verified = configure_cmd(&sim, verify_request(&audit_log, None)).await;

    assert_eq!(verified.code, 3);
    assert!(verified.err.contains("line 2"), "{}", verified.err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_associates_the_partner_event_source_with_its_bus_and_status_shows_it() {
    let Some(events) = crate::helpers::local_eventbridge("eu-west-1").await else {
        return;
    };
    let sim = demo_sim().await;
    let suffix = format!("dispositions-{:08x}", fastrand::u32(..));
    let source = genesys_eventbridge::eventbridge::partner_source_name(gev_sim::ORG_ID, &suffix);
    // What Genesys does on AWS once the integration is active.
    events
        .create_partner_event_source()
        .name(&source)
        .account("123456789012")
        .send()
        .await
        .unwrap();
    let file = desired_file(json!({"eventSourceSuffix": suffix}));
    let Request::Apply {
        file,
        yes,
        audit_log,
        activation,
        ..
    } = apply_request(&file, &audit_path())
    else {
        unreachable!()
    };
    let associate = Request::Apply {
        file: file.clone(),
        yes,
        audit_log,
        activation,
        associate_bus: true,
        notify_topic_arn: None,
    };

    let applied = configure_cmd(&sim, associate).await;
    let status = configure_cmd(&sim, status_request(&file, &audit_path())).await;

    assert_eq!(applied.code, 0, "{}{}", applied.out, applied.err);
    assert!(
        applied.out.contains(&format!("event bus {source}")),
        "{}",
        applied.out
    );
    let bus = events
        .describe_event_bus()
        .name(&source)
        .send()
        .await
        .unwrap();
    assert_eq!(bus.name(), Some(source.as_str()));
    assert!(status.out.contains("bus associated"), "{}", status.out);
}

fn check_cmd(file: &Path, template: &Path) -> Ran {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = {
        let mut terminal = Terminal {
            aws: genesys_eventbridge::cli::configure::sdk_connector(),
            notifier: genesys_eventbridge::cli::configure::sns_connector(),
            out: &mut out,
            err: &mut err,
            who: String::new(),
            interactive: false,
        };
        let events = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/events"));
        genesys_eventbridge::cli::configure::check(file, template, events, &mut terminal)
    };
    Ran {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");

#[test]
fn check_passes_when_the_rule_delivers_every_topic_and_the_consumer_acts_on_it() {
    let checked = check_cmd(&desired_file(json!({})), Path::new(TEMPLATE));

    assert_eq!(checked.code, 0, "{}{}", checked.out, checked.err);
    assert_eq!(
        checked.out.matches("the consumer acts on it").count(),
        3,
        "{}",
        checked.out
    );
}

#[test]
fn check_fails_on_a_topic_the_rule_does_not_deliver() {
    let file = desired_file(json!({"topics": [
        "v2.detail.events.conversation.{id}.user.end",
        "v2.detail.events.conversation.{id}.acd.end"
    ]}));

    let checked = check_cmd(&file, Path::new(TEMPLATE));

    assert_eq!(checked.code, 3);
    assert!(
        checked
            .out
            .contains("error v2.detail.events.conversation.{id}.acd.end: the rule"),
        "{}",
        checked.out
    );
}

#[test]
fn check_warns_about_a_topic_the_rule_delivers_but_the_consumer_ignores() {
    let template = std::env::temp_dir().join(format!("template-{:016x}.yaml", fastrand::u64(..)));
    std::fs::write(
        &template,
        "Resources:\n  GenesysEventsRule:\n    Type: AWS::Events::Rule\n    Properties:\n      \
         EventPattern:\n        source: [{prefix: aws.partner/genesys.com}]\n",
    )
    .unwrap();
    let file = desired_file(json!({"topics": ["v2.detail.events.conversation.{id}.user.start"]}));

    let checked = check_cmd(&file, &template);

    assert_eq!(checked.code, 0);
    assert!(checked.out.starts_with("warn "), "{}", checked.out);
}

#[tokio::test]
async fn apply_without_yes_and_without_a_terminal_refuses_and_writes_nothing() {
    let sim = demo_sim().await;
    let file = desired_file(json!({}));
    let Request::Apply {
        file,
        audit_log,
        activation,
        ..
    } = apply_request(&file, &audit_path())
    else {
        unreachable!()
    };
    let unconfirmed = Request::Apply {
        file,
        yes: false,
        audit_log,
        activation,
        associate_bus: false,
        notify_topic_arn: None,
    };

    let refused = configure_cmd(&sim, unconfirmed).await;

    assert_eq!(refused.code, 2);
    assert!(refused.err.contains("without --yes"), "{}", refused.err);
    assert!(sim.simulator.integration_writes().is_empty());
}

#[tokio::test]
async fn each_applied_change_is_published_as_its_audit_record_without_secrets() {
    let sim = demo_sim().await;
    let (file, audit_log) = (desired_file(json!({})), audit_path());
    let published = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = published.clone();
    let Request::Apply {
        file, activation, ..
    } = apply_request(&file, &audit_log)
    else {
        unreachable!()
    };
    let request = Request::Apply {
        file,
        yes: true,
        audit_log: audit_log.clone(),
        activation,
        associate_bus: false,
        notify_topic_arn: Some("arn:aws:sns:eu-west-1:123456789012:integration-changes".into()),
    };
    let client = sim_client(&sim.base_url(), HttpSettings::default());
    let (mut out, mut err) = (Vec::new(), Vec::new());

    let code = {
        let mut terminal = Terminal {
            aws: genesys_eventbridge::cli::configure::sdk_connector(),
            notifier: Box::new(move |_: &str| {
                let sink = sink.clone();
                Box::pin(async move {
                    Box::new(Recording(sink))
                        as Box<dyn genesys_eventbridge::notify::ChangeNotifier>
                })
            }),
            out: &mut out,
            err: &mut err,
            who: "demo-client".into(),
            interactive: false,
        };
        run_with(request, &client, &mut terminal).await
    };

    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    let published = published.lock().unwrap();
    let audit = std::fs::read_to_string(&audit_log).unwrap();
    assert_eq!(published.len(), 1);
    let mut record: Value = serde_json::from_str(&published[0]).unwrap();
    let head = record.as_object_mut().unwrap().remove("head");
    let line: Value = serde_json::from_str(audit.trim_end()).unwrap();
    assert_eq!(record, line);
    assert_eq!(head, Some(json!(sha256_hex(audit.trim_end()))));
    assert!(!published[0].contains("demo-secret") && !published[0].contains("sim-token-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_published_to_a_real_sns_topic() {
    if std::env::var_os("AWS_ENDPOINT_URL_SNS").is_none() {
        assert!(
            std::env::var_os("REQUIRE_LOCAL_AWS").is_none(),
            "REQUIRE_LOCAL_AWS is set but AWS_ENDPOINT_URL_SNS is not"
        );
        crate::helpers::say_skipped("no local SNS (`make test` starts moto)");
        return;
    }
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .load()
        .await;
    let topic = aws_sdk_sns::Client::new(&shared)
        .create_topic()
        .name(format!("changes-{:08x}", fastrand::u32(..)))
        .send()
        .await
        .unwrap();
    let sim = demo_sim().await;
    let Request::Apply {
        file,
        audit_log,
        activation,
        ..
    } = apply_request(&desired_file(json!({})), &audit_path())
    else {
        unreachable!()
    };

    let applied = configure_cmd(
        &sim,
        Request::Apply {
            file,
            yes: true,
            audit_log,
            activation,
            associate_bus: false,
            notify_topic_arn: topic.topic_arn().map(str::to_owned),
        },
    )
    .await;

    assert_eq!(applied.code, 0, "{}{}", applied.out, applied.err);
}
