//! Publishing onto moto's EventBridge: entries of the sample events go out in requests within the limits and come back accepted, each with its id.

use crate::helpers::local_eventbridge;
use genesys_eventbridge::publish::{
    BusSink, DEFAULT_MAX_BYTES, DEFAULT_SOURCE, Published, SendPolicy, send_all, transform,
};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_samples_are_published_to_a_bus_each_with_its_eventbridge_id() {
    let Some(events) = local_eventbridge("eu-west-1").await else {
        return;
    };
    let bus = format!("publish-test-{:08x}", fastrand::u32(..));
    events.create_event_bus().name(&bus).send().await.unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('2') || name.starts_with('3'))
        .collect();
    names.sort();
    let entries: Vec<_> = names
        .iter()
        .map(|name| std::fs::read_to_string(format!("{dir}/{name}")).unwrap())
        .map(|text| serde_json::from_str(&text).unwrap())
        .filter_map(|event| transform(&event, DEFAULT_SOURCE, "2026-11-30T00:00:00Z").ok())
        .collect();
    let policy = SendPolicy {
        max_attempts: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        max_request_bytes: DEFAULT_MAX_BYTES,
    };

    let results = send_all(&BusSink::new(events, &bus), &entries, policy).await;

    assert!(entries.len() >= 10, "{}", entries.len());
    for (entry, result) in entries.iter().zip(&results) {
        assert!(
            matches!(result, Published::Published { event_id } if !event_id.is_empty()),
            "{}: {result:?}",
            entry.detail_type
        );
    }
}
