//! Score post-processing before rewards (TRL `use_score_scaling`, `use_score_norm`,
//! `score_clip`), on the host: scores are one number per sample.

use serde::{Deserialize, Serialize};

/// Running mean and standard deviation of all scores seen (TRL `RunningMoments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningMoments {
    /// Running mean.
    pub mean: f64,
    /// Running standard deviation (unbiased).
    pub std: f64,
    /// Running (biased) variance.
    pub var: f64,
    /// Samples seen (starts at 1e-24 as in TRL).
    pub count: f64,
}

impl Default for RunningMoments {
    fn default() -> Self {
        Self {
            mean: 0.0,
            std: 1.0,
            var: 1.0,
            count: 1e-24,
        }
    }
}

impl RunningMoments {
    /// Folds a batch into the running moments (parallel-variance update).
    pub fn update(&mut self, xs: &[f64]) {
        let n = xs.len() as f64;
        if n == 0.0 {
            return;
        }
        let xs_mean = xs.iter().sum::<f64>() / n;
        let xs_var = xs.iter().map(|x| (x - xs_mean).powi(2)).sum::<f64>() / n;
        let delta = xs_mean - self.mean;
        let total = self.count + n;
        let old_sum = self.var * self.count + delta * delta * self.count * n / total;
        let new_var = (old_sum + xs_var * n) / total;
        self.mean += delta * n / total;
        self.std = (new_var * total / (total - 1.0)).sqrt();
        self.var = new_var;
        self.count = total;
    }

    /// TRL's score pipeline: with `scaling`, update the moments and divide by the running std
    /// (subtracting the running mean too with `norm`); then clip to ±`clip`.
    pub fn process(&mut self, scores: &mut [f64], scaling: bool, norm: bool, clip: Option<f64>) {
        if scaling {
            self.update(scores);
            let factor = self.std + f64::from(f32::EPSILON);
            for s in scores.iter_mut() {
                *s = if norm {
                    (*s - self.mean) / factor
                } else {
                    *s / factor
                };
            }
        }
        if let Some(c) = clip {
            for s in scores.iter_mut() {
                *s = s.clamp(-c, c);
            }
        }
    }
}
