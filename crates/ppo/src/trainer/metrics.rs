//! Per-step metrics as JSON lines, sample tables, and an SVG plot of reward and KL.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::TrainError;

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
            Some(step) if path.exists() => {
                // Keep the original lines byte for byte (re-serialising floats could change them).
                let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
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
                models::export::write_atomic(&path, kept.as_bytes())?;
            }
            Some(_) => {}
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
        let line =
            serde_json::to_string(metrics).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
        writeln!(file, "{line}").map_err(|e| TrainError::io(&self.path, e))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
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

/// Writes an SVG with one panel per key (e.g. `env/reward_mean`, `objective/kl`) over steps.
pub fn plot_svg(path: &Path, history: &[Metrics], keys: &[&str]) -> Result<(), TrainError> {
    let (w, panel_h, pad) = (640.0, 220.0, 48.0);
    let height = panel_h * keys.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (panel, key) in keys.iter().enumerate() {
        let points: Vec<(f64, f64)> = history
            .iter()
            .filter_map(|m| Some((m.get("step")?.as_f64()?, m.get(*key)?.as_f64()?)))
            .filter(|(_, y)| y.is_finite())
            .collect();
        let top = panel as f64 * panel_h;
        svg.push_str(&format!(
            "<text x=\"{pad}\" y=\"{}\" font-weight=\"bold\">{key}</text>\n",
            top + 18.0
        ));
        if points.is_empty() {
            continue;
        }
        let (x0, x1) = bounds(points.iter().map(|p| p.0));
        let (y0, y1) = bounds(points.iter().map(|p| p.1));
        let sx = |x: f64| pad + (x - x0) / (x1 - x0) * (w - 2.0 * pad);
        let sy = |y: f64| top + panel_h - pad + (y0 - y) / (y1 - y0) * (panel_h - 2.0 * pad);
        let path_d: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        svg.push_str(&format!(
            "<rect x=\"{pad}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n",
            top + pad,
            w - 2.0 * pad,
            panel_h - 2.0 * pad
        ));
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n",
            path_d.join(" ")
        ));
        for (value, y) in [(y1, sy(y1)), (y0, sy(y0))] {
            svg.push_str(&format!(
                "<text x=\"4\" y=\"{:.1}\">{value:.3}</text>\n",
                y + 4.0
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{pad}\" y=\"{:.1}\">step {x0}</text><text x=\"{:.1}\" y=\"{:.1}\" \
             text-anchor=\"end\">step {x1}</text>\n",
            top + panel_h - pad + 16.0,
            w - pad,
            top + panel_h - pad + 16.0
        ));
    }
    svg.push_str("</svg>\n");
    models::export::write_atomic(path, svg.as_bytes()).map_err(TrainError::from)
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}
