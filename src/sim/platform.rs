//! A stand-in for the delivering platform: instances take deliveries one at a time, failed ones
//! are delivered again after a growing delay, and dead-lettered after a limit.

use crate::deadline::Deadline;
use crate::dedup::OwnerToken;
use crate::lambda;
use crate::pipeline::{Consumer, Invocation, Report};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the platform delivers.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryOptions {
    /// Deliveries of one event before it is dead-lettered.
    pub max_deliveries: u32,
    /// Delay before the n-th redelivery: n times this (like Lambda's and SQS's retries).
    pub redelivery_delay: Duration,
    /// Each invocation's time budget (the function timeout).
    pub invocation_budget: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            max_deliveries: 12,
            redelivery_delay: Duration::from_millis(50),
            invocation_budget: Duration::from_secs(5),
        }
    }
}

/// What a run delivered.
#[derive(Debug, Default)]
pub struct DeliveryRun {
    /// The report of every delivery that ended in a terminal outcome.
    pub reports: Vec<Report>,
    /// Events that outlived `max_deliveries`.
    pub dead_letters: Vec<Value>,
    /// Deliveries made again after a `failed` outcome.
    pub redeliveries: usize,
    pub elapsed: Duration,
}

struct Shared {
    queue: Mutex<VecDeque<(Value, u32)>>,
    /// Deliveries taken or waiting to be delivered again.
    pending: AtomicUsize,
    run: Mutex<DeliveryRun>,
}

/// Delivers `events` through one worker per consumer (each a Lambda instance) until every
/// delivery is terminal or dead-lettered.
pub async fn deliver(
    consumers: Vec<Consumer>,
    events: Vec<Value>,
    options: DeliveryOptions,
) -> DeliveryRun {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        pending: AtomicUsize::new(events.len()),
        queue: Mutex::new(events.into_iter().map(|event| (event, 1)).collect()),
        run: Mutex::new(DeliveryRun::default()),
    });
    let workers: Vec<_> = consumers
        .into_iter()
        .enumerate()
        .map(|(worker, consumer)| tokio::spawn(work(worker, consumer, shared.clone(), options)))
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let mut run = std::mem::take(&mut *shared.run.lock().unwrap_or_else(|p| p.into_inner()));
    run.elapsed = started.elapsed();
    run
}

async fn work(worker: usize, consumer: Consumer, shared: Arc<Shared>, options: DeliveryOptions) {
    let mut request = 0u64;
    loop {
        let next = shared
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        let Some((event, delivery)) = next else {
            if shared.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        };
        request += 1;
        let invocation = Invocation {
            owner: OwnerToken::new(format!("instance-{worker}-request-{request}")),
            deadline: Deadline::after(options.invocation_budget),
        };
        let handled = lambda::handle(&consumer, event.clone(), &invocation).await;
        let failed = handled.has_failures();
        if failed && delivery < options.max_deliveries {
            let shared = shared.clone();
            shared
                .run
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .redeliveries += 1;
            tokio::spawn(async move {
                tokio::time::sleep(options.redelivery_delay * delivery).await;
                shared
                    .queue
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_back((event, delivery + 1));
            });
            continue;
        }
        {
            let mut run = shared.run.lock().unwrap_or_else(|p| p.into_inner());
            if failed {
                run.dead_letters.push(event);
            } else {
                run.reports.extend(handled.reports);
            }
        }
        shared.pending.fetch_sub(1, Ordering::SeqCst);
    }
}
