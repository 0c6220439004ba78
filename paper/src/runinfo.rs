//! What a training run cost: wall time and peak resident memory, written as `run.json` beside
//! the run's checkpoint.

use advcal::Result;
use advcal::model::Architecture;
use advcal::train::EpochRecord;
use serde::Serialize;
use std::path::Path;

/// The schedule a run was trained with.
#[derive(Serialize, Clone, Copy)]
pub struct Schedule {
    pub epochs: usize,
    pub learning_rate: f64,
    /// Linear warm-up epochs before the cosine schedule.
    pub warmup_epochs: usize,
}

#[derive(Serialize)]
struct RunInfo<'a> {
    strategy: &'a str,
    architecture: &'a str,
    #[serde(flatten)]
    schedule: Schedule,
    /// Sum of the epochs' wall times over every session of the run (resumes included).
    train_seconds: f64,
    /// Wall time of this process's part of the run (training plus per-epoch evaluation).
    session_seconds: f64,
    /// Peak resident set size of this process since the run (or its resume) started, in MiB
    /// (`VmHWM`, reset through `/proc/self/clear_refs`); `null` where Linux's procfs is missing.
    peak_rss_mib: Option<f64>,
    final_train_loss: Option<f64>,
    final_eval_accuracy: Option<f64>,
}

/// Resets the kernel's peak-RSS counter of this process (Linux; a no-op elsewhere).
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn write(
    dir: &Path,
    strategy: &str,
    arch: Architecture,
    schedule: Schedule,
    history: &[EpochRecord],
    session_seconds: f64,
) -> Result<()> {
    let last = history.last();
    let info = RunInfo {
        strategy,
        architecture: arch.name(),
        schedule,
        train_seconds: history.iter().map(|e| e.seconds).sum(),
        session_seconds,
        peak_rss_mib: peak_rss_mib(),
        final_train_loss: last.map(|e| e.train_loss),
        final_eval_accuracy: last.and_then(|e| e.eval.as_ref()).map(|r| r.accuracy),
    };
    advcal::io::write_json_atomic(dir.join("run.json"), &info)
}
