//! A stand-in for the delivering platform: instances take deliveries one at a time, failed ones
//! are delivered again after a growing delay, and dead-lettered after a limit; some invocations
//! are frozen mid-flight and wake as zombies after their lease.

use gev_consumer::consumer::{Consumer, Invocation, Report};
use gev_consumer::dedup::OwnerToken;
use gev_consumer::lambda;
use gev_core::deadline::Deadline;
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
    /// Invocations to freeze mid-flight, if any.
    pub freeze: Option<Freeze>,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            max_deliveries: 12,
            redelivery_delay: Duration::from_millis(50),
            invocation_budget: Duration::from_secs(5),
            freeze: None,
        }
    }
}

/// Freezing invocations: one still running `after` its start is, with probability `share`,
/// stopped there as if killed at its deadline (the platform delivers its event again once the
/// budget has passed), and resumed `wake_after` its start, a zombie that must change nothing.
#[derive(Debug, Clone, Copy)]
pub struct Freeze {
    /// The probability that a watched invocation is frozen.
    pub share: f64,
    /// How long after its start an invocation still running is frozen.
    pub after: Duration,
    /// When, after its start, a frozen invocation resumes.
    pub wake_after: Duration,
    /// Seeds the draws.
    pub seed: u64,
}

/// What a run delivered.
#[derive(Debug, Default)]
pub struct DeliveryRun {
    /// The report of every delivery that ended in a terminal outcome.
    pub reports: Vec<Report>,
    /// Events that outlived `max_deliveries`.
    pub dead_letters: Vec<Value>,
    /// Deliveries made again after a `failed` outcome (or a freeze).
    pub redeliveries: usize,
    /// Frozen invocations that woke up and ran to their end.
    pub zombies: usize,
    /// How long the whole run took.
    pub elapsed: Duration,
}

struct Shared {
    queue: Mutex<VecDeque<(Value, u32)>>,
    /// Deliveries taken or waiting to be delivered again.
    pending: AtomicUsize,
    run: Mutex<DeliveryRun>,
    /// The frozen invocations, to be awaited before the run ends.
    zombies: Mutex<Vec<tokio::task::JoinHandle<()>>>,
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
        zombies: Mutex::default(),
    });
    let workers: Vec<_> = consumers
        .into_iter()
        .enumerate()
        .map(|(worker, consumer)| tokio::spawn(work(worker, consumer, shared.clone(), options)))
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let zombies = std::mem::take(&mut *gev_core::locks::lock(&shared.zombies));
    for zombie in zombies {
        let _ = zombie.await;
    }
    let mut run = std::mem::take(&mut *gev_core::locks::lock(&shared.run));
    run.elapsed = started.elapsed();
    run
}

async fn work(worker: usize, consumer: Consumer, shared: Arc<Shared>, options: DeliveryOptions) {
    let mut request = 0u64;
    let mut rng = fastrand::Rng::with_seed(options.freeze.map_or(0, |f| f.seed) + worker as u64);
    loop {
        let next = gev_core::locks::lock(&shared.queue).pop_front();
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
        let (consumer_copy, payload) = (consumer.clone(), event.clone());
        let mut running =
            Box::pin(async move { lambda::handle(&consumer_copy, payload, &invocation).await });
        let handled = match options.freeze.filter(|freeze| rng.f64() < freeze.share) {
            Some(freeze) => match tokio::time::timeout(freeze.after, running.as_mut()).await {
                Ok(handled) => handled,
                Err(_) => {
                    freeze_until_after_its_lease(&shared, running, freeze);
                    // Killed at its deadline: delivered again once the budget has passed.
                    redeliver(&shared, event, delivery, options.invocation_budget);
                    continue;
                }
            },
            None => running.await,
        };
        let failed = handled.has_failures();
        if failed && delivery < options.max_deliveries {
            redeliver(
                &shared,
                event,
                delivery,
                options.redelivery_delay * delivery,
            );
            continue;
        }
        {
            let mut run = gev_core::locks::lock(&shared.run);
            if failed {
                run.dead_letters.push(event);
            } else {
                run.reports.extend(handled.reports);
            }
        }
        shared.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Queues `event` for its next delivery after `delay`.
fn redeliver(shared: &Arc<Shared>, event: Value, delivery: u32, delay: Duration) {
    gev_core::locks::lock(&shared.run).redeliveries += 1;
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        gev_core::locks::lock(&shared.queue).push_back((event, delivery + 1));
    });
}

/// Leaves `invocation` unpolled (frozen) until `wake_after` its start, then runs it to its end.
fn freeze_until_after_its_lease(
    shared: &Arc<Shared>,
    invocation: std::pin::Pin<
        Box<impl std::future::Future<Output = lambda::Handled> + Send + 'static>,
    >,
    freeze: Freeze,
) {
    let woken = shared.clone();
    let zombie = tokio::spawn(async move {
        tokio::time::sleep(freeze.wake_after.saturating_sub(freeze.after)).await;
        let _ = invocation.await;
        gev_core::locks::lock(&woken.run).zombies += 1;
    });
    gev_core::locks::lock(&shared.zombies).push(zombie);
}
