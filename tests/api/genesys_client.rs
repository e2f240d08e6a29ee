//! The HTTP Genesys client against wiremock: every status path, with exact request counts.

use crate::fixtures::{GenesysMock, rate_limited};
use crate::helpers::*;
use gev_core::deadline::Deadline;
use gev_genesys::{ApplyResult, GenesysApi, GenesysError};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiremock::ResponseTemplate;

/// Whether `error` is a request that timed out.
fn timed_out(error: &GenesysError) -> bool {
    matches!(
        error,
        GenesysError::Transport {
            timed_out: true,
            ..
        }
    )
}

#[tokio::test]
async fn fetch_reads_the_interaction_with_a_bearer_token() {
    let genesys = GenesysMock::ready()
        .interaction(json!({"state": "connected"}), 1)
        .await;

    let interaction = genesys.fetch_interaction().await.unwrap();

    assert_eq!(interaction.state, "connected");
    assert_eq!(interaction.duration_ms(), 45_000);
}

#[tokio::test]
async fn the_token_is_cached_between_calls() {
    let genesys = GenesysMock::eligible(3).await;
    let client = genesys.client();

    for _ in 0..3 {
        client
            .fetch_interaction(&interaction_id(), deadline())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_token_is_refreshed_thirty_seconds_before_it_expires() {
    let genesys = GenesysMock::builder()
        .tokens(31, 2)
        .interaction(json!({}), 3)
        .await;
    let client = genesys.client();

    client
        .fetch_interaction(&interaction_id(), deadline())
        .await
        .unwrap();
    client
        .fetch_interaction(&interaction_id(), deadline())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    client
        .fetch_interaction(&interaction_id(), deadline())
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let slow_token = ResponseTemplate::new(200)
        .set_body_json(json!({"access_token": TOKEN, "expires_in": 86_400}))
        .set_delay(Duration::from_millis(200));
    let genesys = GenesysMock::builder()
        .token_answer(slow_token, 1)
        .interaction(json!({}), 16)
        .await;
    let client = Arc::new(genesys.client());

    let calls = (0..16).map(|_| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .fetch_interaction(&interaction_id(), deadline())
                .await
        })
    });
    for call in calls {
        call.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_401_fetches_a_fresh_token_once_and_retries() {
    let genesys = GenesysMock::builder()
        .tokens(86_400, 2)
        .interaction_answer(401, 1)
        .before_the_rest()
        .interaction(json!({}), 1)
        .await;

    let result = genesys.fetch_interaction().await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_second_401_fails_retryably_and_names_what_to_check() {
    let genesys = GenesysMock::builder()
        .tokens(86_400, 2)
        .interaction_answer(401, 2)
        .await;

    let error = genesys.fetch_interaction().await.unwrap_err();

    assert!(
        matches!(error, GenesysError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(
        error.is_retryable(),
        "the event is kept for redelivery, not dropped"
    );
    assert!(
        error.to_string().contains("OAuth client is active"),
        "{error}"
    );
}

#[tokio::test]
async fn a_refused_token_request_names_the_credential_settings_and_awaits_a_fix() {
    let refused = ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
    let genesys = GenesysMock::builder()
        .token_answer(refused, 1)
        .interaction_answer(200, 0)
        .await;

    let error = genesys.fetch_interaction().await.unwrap_err();

    let message = error.to_string();
    assert!(error.needs_configuration_fix());
    assert!(message.contains("GENESYS_CLOUD_CLIENT_ID"), "{message}");
    assert!(message.contains("invalid_client"), "{message}");
    assert!(!message.contains(CLIENT_SECRET), "{message}");
}

#[tokio::test]
async fn callers_waiting_for_a_refused_token_share_its_refusal_instead_of_asking_again() {
    let slow_refusal = ResponseTemplate::new(401)
        .set_delay(Duration::from_millis(100))
        .set_body_json(json!({"error": "invalid_client"}));
    let genesys = GenesysMock::builder()
        .token_answer(slow_refusal, 1)
        .interaction_answer(200, 0)
        .await;
    let client = genesys.client();

    let id = interaction_id();
    let fetches = (0..8).map(|_| client.fetch_interaction(&id, deadline()));
    let results = futures_util::future::join_all(fetches).await;

    for result in results {
        let error = result.unwrap_err();
        assert!(error.needs_configuration_fix(), "{error}");
    }
}

#[tokio::test]
async fn a_hostile_retry_after_is_not_waited_for_and_does_not_panic() {
    let genesys = GenesysMock::ready()
        .interaction_answer(rate_limited("1e20"), 1)
        .before_the_rest()
        .interaction_answer(rate_limited("Fri, 31 Dec 9999 23:59:59 GMT"), 1)
        .before_the_rest()
        .await;
    let client = genesys.client();

    for _ in 0..2 {
        let started = Instant::now();
        let error = client
            .fetch_interaction(&interaction_id(), deadline())
            .await
            .unwrap_err();

        assert!(matches!(error, GenesysError::RateLimited { .. }), "{error}");
        assert!(error.is_retryable());
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_refused_connection_is_printed_with_its_cause_once() {
    // Nothing listens on port 9 of the loopback interface.
    let client = client_with("http://127.0.0.1:9", fast_settings());

    let error = client
        .fetch_interaction(&interaction_id(), deadline())
        .await
        .unwrap_err();

    let printed = gev_core::error_chain(&error);
    assert!(
        printed.starts_with("POST /oauth/token: request failed: "),
        "{printed}"
    );
    assert!(
        printed.to_lowercase().contains("connection refused"),
        "{printed}"
    );
    assert_eq!(printed.matches("request failed").count(), 1, "{printed}");
}

#[tokio::test]
async fn a_429_waits_for_retry_after_and_then_succeeds() {
    let genesys = GenesysMock::ready()
        .interaction_answer(rate_limited("1"), 1)
        .before_the_rest()
        .interaction(json!({}), 1)
        .await;
    let started = Instant::now();

    let result = genesys.fetch_interaction().await;

    assert!(result.is_ok(), "{result:?}");
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once_as_retryable() {
    let genesys = GenesysMock::ready()
        .interaction_answer(rate_limited("5"), 1)
        .await;
    let started = Instant::now();

    let error = genesys
        .client()
        .fetch_interaction(&interaction_id(), Deadline::after(Duration::from_secs(2)))
        .await
        .unwrap_err();

    assert!(
        matches!(error, GenesysError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(5))
    );
    assert!(error.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_retry_after_above_180_seconds_is_not_waited_for() {
    let genesys = GenesysMock::ready()
        .interaction_answer(rate_limited("181"), 1)
        .await;

    let error = genesys
        .client()
        .fetch_interaction(&interaction_id(), Deadline::after(Duration::from_secs(900)))
        .await
        .unwrap_err();

    assert!(matches!(error, GenesysError::RateLimited { .. }));
}

#[tokio::test]
async fn a_5xx_is_retried_three_times_in_all_then_reported_as_retryable() {
    let genesys = GenesysMock::ready().interaction_answer(503, 3).await;

    let error = genesys.fetch_interaction().await.unwrap_err();

    assert!(matches!(error, GenesysError::Server { status: 503, .. }));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_5xx_followed_by_success_succeeds() {
    let genesys = GenesysMock::ready()
        .interaction_answer(502, 2)
        .before_the_rest()
        .interaction(json!({}), 1)
        .await;

    let result = genesys.fetch_interaction().await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_501_is_not_retried() {
    let genesys = GenesysMock::ready().interaction_answer(501, 1).await;

    let error = genesys.fetch_interaction().await.unwrap_err();

    assert!(matches!(error, GenesysError::Refused { status: 501, .. }));
}

#[tokio::test]
async fn a_slow_response_times_out_and_is_retried_up_to_three_attempts() {
    let slow = ResponseTemplate::new(200).set_delay(Duration::from_millis(800));
    let genesys = GenesysMock::ready().interaction_answer(slow, 3).await;

    let error = genesys.fetch_interaction().await.unwrap_err();

    assert!(timed_out(&error), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn no_request_is_sent_when_the_deadline_has_passed() {
    let genesys = GenesysMock::builder()
        .tokens(86_400, 0)
        .interaction_answer(200, 0)
        .await;

    let error = genesys
        .client()
        .fetch_interaction(
            &interaction_id(),
            Deadline::after(Duration::from_millis(10)),
        )
        .await
        .unwrap_err();

    assert!(matches!(error, GenesysError::DeadlineExceeded { .. }));
}

#[tokio::test]
async fn a_404_on_get_is_not_found_and_not_retried() {
    let genesys = GenesysMock::ready().interaction_answer(404, 1).await;

    let error = genesys.fetch_interaction().await.unwrap_err();

    assert!(matches!(error, GenesysError::NotFound { status: 404, .. }));
}

#[tokio::test]
async fn a_403_on_get_names_the_read_permission() {
    let forbidden = ResponseTemplate::new(403).insert_header("ININ-Correlation-Id", "corr-403");
    let genesys = GenesysMock::ready().interaction_answer(forbidden, 1).await;

    let error = genesys.fetch_interaction().await.unwrap_err();

    let message = error.to_string();
    assert!(message.contains("interaction:read"), "{message}");
    assert!(message.contains("corr-403"), "{message}");
}

#[tokio::test]
async fn a_success_with_an_unreadable_body_is_an_invalid_response() {
    let html = ResponseTemplate::new(200).set_body_string("<html>");
    let genesys = GenesysMock::ready().interaction_answer(html, 1).await;

    let error = genesys.fetch_interaction().await.unwrap_err();

    assert!(matches!(error, GenesysError::InvalidResponse { .. }));
}

#[tokio::test]
async fn apply_sends_only_the_disposition_code() {
    let genesys = GenesysMock::ready().patch(200, 1).await;

    let result = genesys.apply_disposition().await;

    assert_eq!(result.unwrap(), ApplyResult::Applied);
}

#[tokio::test]
async fn a_409_on_patch_is_a_conflict_not_an_error() {
    let genesys = GenesysMock::ready().patch(409, 1).await;

    let result = genesys.apply_disposition().await;

    assert_eq!(result.unwrap(), ApplyResult::Conflict);
}

#[tokio::test]
async fn a_400_on_patch_names_the_disposition_code_setting() {
    let refused =
        ResponseTemplate::new(400).set_body_json(json!({"message": "disposition code not found"}));
    let genesys = GenesysMock::ready().patch(refused, 1).await;

    let error = genesys.apply_disposition().await.unwrap_err();

    let message = error.to_string();
    assert!(!error.is_retryable());
    assert!(message.contains("DISPOSITION_CODE_ID"), "{message}");
    assert!(message.contains("disposition code not found"), "{message}");
}

#[tokio::test]
async fn a_403_on_patch_names_the_write_permission() {
    let genesys = GenesysMock::ready().patch(403, 1).await;

    let error = genesys.apply_disposition().await.unwrap_err();

    let message = error.to_string();
    assert!(message.contains("interaction:write"), "{message}");
    assert!(message.contains("user-context grant"), "{message}");
}

#[tokio::test]
async fn a_patch_429_is_retried_after_retry_after() {
    let genesys = GenesysMock::ready()
        .patch_answer(rate_limited("0"), 1)
        .before_the_rest()
        .patch(202, 1)
        .await;

    let result = genesys.apply_disposition().await;

    assert_eq!(result.unwrap(), ApplyResult::Applied);
}

#[tokio::test]
async fn a_patch_that_times_out_is_not_sent_again_blindly() {
    let slow = ResponseTemplate::new(200).set_delay(Duration::from_millis(800));
    let genesys = GenesysMock::ready().patch(slow, 1).await;

    let error = genesys.apply_disposition().await.unwrap_err();

    assert!(timed_out(&error), "{error:?}");
    assert!(
        error.is_retryable(),
        "the event is redelivered, and its redelivery reads first"
    );
}

#[tokio::test]
async fn a_patch_answered_502_is_not_sent_again_blindly() {
    let genesys = GenesysMock::ready().patch(502, 1).await;

    let error = genesys.apply_disposition().await.unwrap_err();

    assert!(matches!(error, GenesysError::Server { status: 502, .. }));
}

#[tokio::test]
async fn a_patch_answered_503_was_not_processed_and_is_retried() {
    let genesys = GenesysMock::ready()
        .patch_answer(503, 2)
        .before_the_rest()
        .patch(200, 1)
        .await;

    let result = genesys.apply_disposition().await;

    assert_eq!(result.unwrap(), ApplyResult::Applied);
}
