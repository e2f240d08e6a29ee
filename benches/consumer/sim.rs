//! genesys-sim (the release binary) in its own process, seeded with a workload, so its CPU time
//! is never counted as the consumer's.

use gev_sim::workload::{Workload, WorkloadSpec};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub(crate) const CODE: &str = "3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99";

/// The workload every mode runs: 1 in 5 deliveries a duplicate; of the distinct events 40 %
/// eligible calls, 40 % ineligible ones and 20 % eligible native conversations.
pub(crate) fn workload(deliveries: usize, prefix: &str) -> Workload {
    let distinct = deliveries * 4 / 5;
    WorkloadSpec {
        eligible_calls: distinct * 2 / 5,
        ineligible_calls: distinct * 2 / 5,
        eligible_conversations: distinct / 5,
        events_per_target: 1,
        duplicate_share: 0.25,
        prefix: prefix.into(),
        seed: 42,
    }
    .generate()
}

/// A running genesys-sim, killed when dropped.
pub(crate) struct Sim {
    child: Child,
    pub url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    /// How many writes the simulator applied.
    pub(crate) async fn applied(&self) -> u64 {
        let patches: Value = reqwest::get(format!("{}/sim/patches", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        patches["total"]["applied"].as_u64().unwrap_or(0)
    }
}

pub(crate) fn start_sim(workload: &Workload, dir: &Path) -> Sim {
    let data = dir.join("sim-data.json");
    std::fs::write(&data, serde_json::to_vec(&workload.seed_data).unwrap()).unwrap();
    let url_file = dir.join("sim-url");
    let _ = std::fs::remove_file(&url_file);
    let child = Command::new(format!("{ROOT}/target/release/genesys-sim"))
        // No request budget: these parts measure the consumer and the tools, not the
        // 300-a-minute OAuth client budget (the per-call part enforces that in-process).
        .args(["--client-requests-per-minute", "0"])
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--url-file")
        .arg(&url_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("target/release/genesys-sim (make bench builds it)");
    // Owned by `Sim` at once, so it is killed and waited for on every path.
    let mut sim = Sim {
        child,
        url: String::new(),
    };
    let started = Instant::now();
    while sim.url.is_empty() {
        sim.url = std::fs::read_to_string(&url_file).unwrap_or_default();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "genesys-sim did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sim
}
