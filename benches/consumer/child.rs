//! Child processes measured on their own: wall time and CPU time from `wait4`, peak RSS sampled
//! from `/proc` (`wait4`'s `ru_maxrss` of a child starts at its parent's high-water mark).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished child process used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub exit_code: i32,
    pub wall: Duration,
    /// User plus system CPU time of the child alone.
    pub cpu: Duration,
    pub peak_rss_bytes: u64,
}

/// The peak resident set (`VmHWM`) of process `pid` so far, while it runs.
fn peak_rss(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1_024)
}

/// Runs `command` with its stdout written to `stdout` and stdin read from `stdin` (if given),
/// then reaps it with `wait4`, so its own resource usage is read, not the harness's.
pub(crate) fn run_measured(mut command: Command, stdin: Option<&Path>, stdout: &Path) -> Usage {
    command
        .stdout(std::fs::File::create(stdout).expect("the output file"))
        .stderr(Stdio::inherit());
    if let Some(input) = stdin {
        command.stdin(std::fs::File::open(input).expect("the input file"));
    }
    let started = Instant::now();
    let child = command.spawn().expect("the child process starts");
    let pid = child.id() as libc::pid_t;
    // The child is reaped by wait4 below; dropping `Child` neither waits nor kills.
    drop(child);
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = std::thread::spawn({
        let running = running.clone();
        move || {
            let mut peak = 0;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak_rss(pid).unwrap_or(0).max(peak);
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        }
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child's pid, filling a status and a rusage we own.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 reaps the child");
    let wall = started.elapsed();
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak_rss_bytes = sampler.join().unwrap_or(0);
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1_000);
    Usage {
        exit_code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        peak_rss_bytes,
    }
}
