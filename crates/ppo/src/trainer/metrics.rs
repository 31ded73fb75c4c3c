//! Per-step metrics as JSON lines (`metrics.jsonl`) and sample tables.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::TrainError;

/// One step's metrics: TRL's stat names (e.g. `env/reward_mean`, `objective/kl`) → value.
pub type Metrics = BTreeMap<String, Value>;

/// Appends metrics to `<run>/metrics.jsonl`.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// Opens the log of a run. When resuming from step `keep_through`, lines of later steps
    /// (written after that checkpoint by the interrupted run) are dropped first.
    pub fn open(run_dir: &Path, keep_through: Option<usize>) -> Result<Self, TrainError> {
        let path = run_dir.join("metrics.jsonl");
        std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
        match keep_through {
            Some(step) => cut_after_step(&path, step)?,
            None => {
                if path.exists() {
                    std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
                }
            }
        }
        Ok(Self { path })
    }

    /// Appends one line.
    pub fn append(&self, metrics: &Metrics) -> Result<(), TrainError> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| TrainError::io(&self.path, e))?;
        let line = serde_json::to_string(metrics).map_err(|source| TrainError::Json {
            path: self.path.clone(),
            source,
        })?;
        writeln!(file, "{line}").map_err(|e| TrainError::io(&self.path, e))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Drops the lines of an append-only JSON-lines log (`metrics.jsonl`, `samples.jsonl`) whose
/// `step` is after `step`: what an interrupted run wrote after the checkpoint it resumes from.
/// Kept lines stay byte for byte (re-serialising floats could change them); a missing file is
/// left missing.
pub fn cut_after_step(path: &Path, step: usize) -> Result<(), TrainError> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut kept = String::new();
    for line in text.lines() {
        let line_step = serde_json::from_str::<Metrics>(line)
            .ok()
            .and_then(|m| m.get("step").and_then(Value::as_u64));
        if line_step.is_some_and(|s| s as usize <= step) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    Ok(models::export::write_atomic(path, kept.as_bytes())?)
}

/// Reads a metrics file back.
pub fn read_lines(path: &Path) -> Result<Vec<Metrics>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Metrics>(l).ok())
        .collect())
}

/// A table of samples, one row per (prompt, response, reward).
pub fn sample_table(step: usize, rows: &[(String, String, f64)]) -> String {
    let clean = |s: &str, n: usize| -> String {
        let flat: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        flat.chars().take(n).collect()
    };
    let mut out = format!(
        "samples at step {step}\n{:>8}  {:<40}  response\n",
        "reward", "query"
    );
    for (query, response, reward) in rows {
        out.push_str(&format!(
            "{reward:>8.3}  {:<40}  {}\n",
            clean(query, 40),
            clean(response, 80)
        ));
    }
    out
}
