//! The one plotting module: training curves (one panel per metric over steps) and overlaid
//! reward histograms, drawn as SVG with the `plotters` crate (SVG backend only, so no fonts or
//! system libraries are needed; text is left to the viewer's sans-serif font).

use std::error::Error;
use std::path::Path;

use models::export::write_atomic;
use plotters::prelude::*;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::TrainError;

/// One line of `metrics.jsonl` (the trainer's `Metrics`): key → value, with a `step`.
pub type MetricsLine = BTreeMap<String, Value>;

type DrawResult = Result<(), Box<dyn Error + Send + Sync>>;

const WIDTH: u32 = 640;
const PANEL_HEIGHT: u32 = 220;
const COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];

/// Writes an SVG with one line panel per key (e.g. `env/reward_mean`, `objective/kl`) over the
/// `step` of each metrics line; non-finite values are left out.
pub fn metrics_svg(path: &Path, history: &[MetricsLine], keys: &[&str]) -> Result<(), TrainError> {
    let panels: Vec<(&str, Vec<(f64, f64)>)> = keys
        .iter()
        .map(|&key| {
            let points = history
                .iter()
                .filter_map(|m| Some((m.get("step")?.as_f64()?, m.get(key)?.as_f64()?)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            (key, points)
        })
        .collect();
    let mut svg = String::new();
    draw_panels(&mut svg, &panels).map_err(|source| plot_error(path, source))?;
    Ok(write_atomic(path, svg.as_bytes())?)
}

/// Writes an SVG with the histograms of several series of values (e.g. rewards before and after
/// PPO) over shared bins, each half transparent.
pub fn histogram_svg(
    path: &Path,
    series: &[(&str, &[f64])],
    x_label: &str,
) -> Result<(), TrainError> {
    let mut svg = String::new();
    draw_histograms(&mut svg, series, x_label).map_err(|source| plot_error(path, source))?;
    Ok(write_atomic(path, svg.as_bytes())?)
}

fn plot_error(path: &Path, source: Box<dyn Error + Send + Sync>) -> TrainError {
    TrainError::Plot {
        path: path.to_path_buf(),
        source,
    }
}

fn draw_panels(svg: &mut String, panels: &[(&str, Vec<(f64, f64)>)]) -> DrawResult {
    let height = PANEL_HEIGHT * panels.len().max(1) as u32;
    let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, (key, points)) in root
        .split_evenly((panels.len().max(1), 1))
        .iter()
        .zip(panels)
    {
        let (x0, x1) = bounds(points.iter().map(|p| p.0));
        let (y0, y1) = bounds(points.iter().map(|p| p.1));
        let mut chart = ChartBuilder::on(area)
            .caption(*key, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart.configure_mesh().x_desc("step").draw()?;
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            COLORS[0].stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}

fn draw_histograms(svg: &mut String, series: &[(&str, &[f64])], x_label: &str) -> DrawResult {
    const BINS: usize = 30;
    let finite = || {
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite())
    };
    let (lo, hi) = bounds(finite());
    let width = (hi - lo) / BINS as f64;
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|(_, values)| {
            let mut c = vec![0usize; BINS];
            for v in values.iter().filter(|v| v.is_finite()) {
                c[(((v - lo) / width) as usize).min(BINS - 1)] += 1;
            }
            c
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let root = SVGBackend::with_string(svg, (WIDTH, 300)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(48)
        .build_cartesian_2d(lo..hi, 0.0..top * 1.05)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("count")
        .draw()?;
    for (k, ((name, _), c)) in series.iter().zip(&counts).enumerate() {
        let color = COLORS[k % COLORS.len()].mix(0.5).filled();
        let bars = c.iter().enumerate().map(move |(i, &n)| {
            let x = lo + i as f64 * width;
            Rectangle::new([(x, 0.0), (x + width, n as f64)], color)
        });
        chart
            .draw_series(bars)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// `(min, max)` of finite values, widened to a unit span around a single value, `(0, 1)` when
/// there are none.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use serde_json::json;

    use super::*;

    fn line(step: usize, reward: f64) -> MetricsLine {
        let mut m = MetricsLine::new();
        m.insert("step".into(), json!(step));
        m.insert("env/reward_mean".into(), json!(reward));
        m
    }

    #[test]
    fn curves_and_histograms_are_svg_with_their_labels() {
        let dir = tempfile::tempdir().unwrap();
        let history: Vec<MetricsLine> = (1..=5).map(|s| line(s, s as f64 * 0.5)).collect();
        let curves = dir.path().join("training.svg");
        // A key without values still gets its (empty) panel.
        metrics_svg(&curves, &history, &["env/reward_mean", "objective/kl"]).unwrap();
        let text = std::fs::read_to_string(&curves).unwrap();
        assert!(text.starts_with("<svg"), "{}", &text[..40]);
        assert!(text.contains("env/reward_mean") && text.contains("objective/kl"));
        assert!(text.contains("<polyline"), "no curve drawn");

        let hist = dir.path().join("rewards.svg");
        let (a, b) = ([0.0, 1.0, 1.5, f64::NAN], [2.0, 2.5]);
        histogram_svg(&hist, &[("baseline", &a), ("policy", &b)], "reward").unwrap();
        let text = std::fs::read_to_string(&hist).unwrap();
        assert!(text.contains("baseline") && text.contains("policy") && text.contains("<rect"));
        // Nothing finite at all still draws an empty chart.
        histogram_svg(&hist, &[("none", &[f64::NAN])], "reward").unwrap();
    }

    #[test]
    fn bounds_widen_degenerate_ranges() {
        assert_eq!(bounds([2.0, f64::NAN].into_iter()), (1.5, 2.5));
        assert_eq!(bounds(std::iter::empty()), (0.0, 1.0));
        assert_eq!(bounds([1.0, 3.0].into_iter()), (1.0, 3.0));
    }
}
