//! Next-token choice on the host, in transformers' order: EOS suppression (min_new_tokens),
//! temperature, top-k, top-p, then a draw from the seeded RNG (or argmax when greedy).
//!
//! Sampling on the host keeps runs reproducible across backends: the same logits and seed give
//! the same tokens on flex, tch and cuda.

use rand::{Rng, RngExt};

use crate::fused::fast_math;

/// Sampling parameters (transformers' names and meanings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// Sample when true, argmax when false.
    pub do_sample: bool,
    /// Logits are divided by it before top-k/top-p (must be > 0).
    pub temperature: f64,
    /// Keep the `top_k` highest logits (ties kept); 0 disables.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p`; 1.0 disables.
    pub top_p: f64,
}

/// Log-softmax of one row of logits (`f32` exponentials, `f64` sum).
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let mut logprobs = logits.to_vec();
    log_softmax_in_place(&mut logprobs);
    logprobs
}

/// [`log_softmax`] in place: `l − max − ln Σ e^(l − max)`, in burn's order of operations (the
/// fused tensor log-softmax runs it on every row).
pub fn log_softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = row.iter().map(|&l| f64::from((l - max).exp())).sum();
    let log_sum = sum.ln() as f32;
    row.iter_mut().for_each(|l| *l = (*l - max) - log_sum);
}

/// Index of the largest value (the first one on ties, like `torch.argmax`).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

impl Sampler {
    /// Chooses a token from one row of raw logits and returns it with its log-probability
    /// under the unmodified distribution `log_softmax(logits)`. `banned` (EOS while below
    /// `min_new_tokens`) can never be chosen.
    pub fn choose<R: Rng + ?Sized>(
        &self,
        logits: &[f32],
        banned: Option<usize>,
        rng: &mut R,
    ) -> (usize, f32) {
        self.choose_given(logits, &log_softmax(logits), banned, rng)
    }

    /// [`Sampler::choose`] with `logprobs = log_softmax(logits)` already computed (so that
    /// rows can compute it in parallel and draw from a shared generator in order).
    pub fn choose_given<R: Rng + ?Sized>(
        &self,
        logits: &[f32],
        logprobs: &[f32],
        banned: Option<usize>,
        rng: &mut R,
    ) -> (usize, f32) {
        let banned = banned.filter(|&b| b < logits.len());
        let token = if !self.do_sample {
            let mut scores = logits.to_vec();
            if let Some(b) = banned {
                scores[b] = f32::NEG_INFINITY;
            }
            argmax(&scores)
        } else if self.draws_one_uniform() {
            // Pure sampling (TRL's setting): draw straight from the log-probs, one pass.
            plain_draw(logprobs, banned, rng.random::<f64>())
        } else {
            self.filtered_draw(logits, banned, rng)
        };
        (token, logprobs[token])
    }

    /// Whether [`Sampler::choose_given`] samples straight from the log-probs (TRL's setting: no
    /// temperature, top-k or top-p) and so takes exactly one `f64` uniform from its generator.
    pub fn draws_one_uniform(&self) -> bool {
        self.do_sample && self.temperature == 1.0 && self.top_k == 0 && self.top_p >= 1.0
    }

    /// [`Sampler::choose`] for a sampler that [`Sampler::draws_one_uniform`], given that uniform
    /// `u` in `[0, 1)`, with vectorised exponentials: the token that `choose` draws from a
    /// generator whose next `f64` is `u` (but where `u` falls within rounding of the edge
    /// between two tokens), and its log-probability. Rows can then draw in parallel from
    /// uniforms taken in row order.
    pub fn choose_with_uniform(
        &self,
        logits: &[f32],
        banned: Option<usize>,
        u: f64,
    ) -> (usize, f32) {
        wide_draw(logits, banned.filter(|&b| b < logits.len()), u)
    }

    /// Temperature, top-k and top-p filtering, then a draw.
    fn filtered_draw<R: Rng + ?Sized>(
        &self,
        logits: &[f32],
        banned: Option<usize>,
        rng: &mut R,
    ) -> usize {
        let mut scores: Vec<f32> = logits.to_vec();
        if let Some(b) = banned {
            scores[b] = f32::NEG_INFINITY;
        }
        if self.temperature != 1.0 {
            let t = self.temperature as f32;
            scores.iter_mut().for_each(|s| *s /= t);
        }
        if self.top_k > 0 && self.top_k < scores.len() {
            let mut sorted = scores.clone();
            sorted.sort_unstable_by(|a, b| b.total_cmp(a));
            let threshold = sorted[self.top_k - 1];
            scores
                .iter_mut()
                .filter(|s| **s < threshold)
                .for_each(|s| *s = f32::NEG_INFINITY);
        }
        let mut probs = softmax(&scores);
        if self.top_p < 1.0 {
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
            let mut mass_before = 0.0f64;
            for &i in &order {
                let keep = mass_before < self.top_p || mass_before == 0.0;
                mass_before += probs[i];
                if !keep {
                    probs[i] = 0.0;
                }
            }
        }
        draw(&probs, rng)
    }
}

/// `softmax(scores)` in f64, shifted by the maximum for stability (the one softmax of the
/// workspace: sampling, reward probabilities, `rlhf score`).
pub fn softmax(scores: &[f32]) -> Vec<f64> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = scores.iter().map(|&s| f64::from(s - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Values per block of [`wide_draw`]: its first pass sums each block's probability mass, and
/// only the block where the draw lands is walked value by value.
const DRAW_BLOCK: usize = 1024;

/// [`plain_draw`] from raw logits with `fast_math`'s exponentials: the token and its
/// log-probability `(l − max) − ln Σ e^(l − max)`.
fn wide_draw(logits: &[f32], banned: Option<usize>, u: f64) -> (usize, f32) {
    let max = fast_math::max(logits);
    let masses = fast_math::exp_sums(logits, max, DRAW_BLOCK);
    let weight = |i: usize| f64::from(fast_math::exp(logits[i] - max));
    let total: f64 = masses.iter().map(|&m| f64::from(m)).sum();
    let log_total = total.ln() as f32;
    let logprob = |i: usize| (logits[i] - max) - log_total;
    let mut u = u * (total - banned.map_or(0.0, weight));
    let mut last = 0;
    let mut walking = false;
    for (block, &mass) in masses.iter().enumerate() {
        let from = block * DRAW_BLOCK;
        let to = (from + DRAW_BLOCK).min(logits.len());
        let mass = f64::from(mass)
            - banned
                .filter(|b| (from..to).contains(b))
                .map_or(0.0, weight);
        if !walking && u >= mass && block + 1 < masses.len() {
            u -= mass;
            if mass > 0.0 {
                last = to - 1;
            }
            continue;
        }
        // From here on value by value (past this block too, should rounding carry `u` over).
        walking = true;
        let weights = (from..to)
            .filter(|&i| Some(i) != banned)
            .map(|i| (i, weight(i)));
        match walk(weights, u, last) {
            Ok(i) => return (i, logprob(i)),
            Err((rest, seen)) => (u, last) = (rest, seen),
        }
    }
    (last, logprob(last))
}

/// Inverse-CDF draw from `exp(logprobs)` with `banned` left out, at the uniform `u` in `[0, 1)`.
fn plain_draw(logprobs: &[f32], banned: Option<usize>, u: f64) -> usize {
    let total = 1.0 - banned.map_or(0.0, |b| f64::from(logprobs[b].exp()));
    let weights = logprobs
        .iter()
        .enumerate()
        .filter(|&(i, _)| Some(i) != banned)
        .map(|(i, &lp)| (i, f64::from(lp.exp())));
    walk(weights, u * total, 0).unwrap_or_else(|(_, last)| last)
}

/// Inverse-CDF draw from unnormalised probabilities.
fn draw<R: Rng + ?Sized>(probs: &[f64], rng: &mut R) -> usize {
    let total: f64 = probs.iter().sum();
    let u = rng.random::<f64>() * total;
    walk(probs.iter().copied().enumerate(), u, 0).unwrap_or_else(|(_, last)| last)
}

/// The inverse-CDF walk: subtracts each positive weight of `(index, weight)` from `u` until one
/// exceeds what is left, and returns its index; or, when none does, `Err` with what is left of
/// `u` and the last index of positive weight (`last` if there was none).
fn walk(
    weights: impl IntoIterator<Item = (usize, f64)>,
    mut u: f64,
    mut last: usize,
) -> Result<usize, (f64, usize)> {
    for (i, p) in weights {
        if p > 0.0 {
            last = i;
            if u < p {
                return Ok(i);
            }
            u -= p;
        }
    }
    Err((u, last))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn sampler(top_k: usize, top_p: f64) -> Sampler {
        Sampler {
            do_sample: true,
            temperature: 1.0,
            top_k,
            top_p,
        }
    }

    #[test]
    fn top_k_one_is_greedy() {
        let mut rng = StdRng::seed_from_u64(0);
        let logits = [0.1, 2.0, 1.9, -3.0];
        for _ in 0..50 {
            assert_eq!(sampler(1, 1.0).choose(&logits, None, &mut rng).0, 1);
        }
    }

    #[test]
    fn top_p_keeps_the_smallest_set_reaching_p() {
        // probs ~ [0.665, 0.245, 0.090]: top_p 0.6 keeps only the first, 0.8 the first two.
        let logits = [2.0f32, 1.0, 0.0];
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = [0usize; 3];
        for _ in 0..2000 {
            seen[sampler(0, 0.6).choose(&logits, None, &mut rng).0] += 1;
        }
        assert_eq!(seen, [2000, 0, 0]);
        seen = [0; 3];
        for _ in 0..2000 {
            seen[sampler(0, 0.8).choose(&logits, None, &mut rng).0] += 1;
        }
        assert!(seen[1] > 400 && seen[2] == 0, "{seen:?}");
    }

    #[test]
    fn sampling_follows_the_softmax() {
        let logits = [0.0f32, (3.0f32).ln()];
        let mut rng = StdRng::seed_from_u64(2);
        let n = 20_000;
        let ones = (0..n)
            .filter(|_| sampler(0, 1.0).choose(&logits, None, &mut rng).0 == 1)
            .count();
        let frac = ones as f64 / n as f64;
        assert!((frac - 0.75).abs() < 0.02, "{frac}");
    }

    #[test]
    fn temperature_divides_the_logits() {
        // softmax([0, ln 9] / 2) = [1/4, 3/4].
        let logits = [0.0f32, (9.0f32).ln()];
        let hot = Sampler {
            temperature: 2.0,
            ..sampler(0, 1.0)
        };
        let mut rng = StdRng::seed_from_u64(4);
        let n = 20_000;
        let ones = (0..n)
            .filter(|_| hot.choose(&logits, None, &mut rng).0 == 1)
            .count();
        assert!((ones as f64 / n as f64 - 0.75).abs() < 0.02);
        // The returned log-prob is the untempered one: log(0.9).
        let (token, lp) = hot.choose(&logits, None, &mut rng);
        let want = if token == 1 { 0.9f32.ln() } else { 0.1f32.ln() };
        assert!((lp - want).abs() < 1e-6);
    }

    #[test]
    fn a_given_uniform_draws_what_the_generator_draws() {
        let s = sampler(0, 1.0);
        assert!(s.draws_one_uniform());
        // One block of the vectorised draw, then several (a banned token in the third).
        for (n, seeds) in [(50, 200), (5_000, 300)] {
            let logits: Vec<f32> = (0..n).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
            let lp = log_softmax(&logits);
            for seed in 0..seeds {
                for banned in [None, Some(3), Some(2_500 % n)] {
                    let mut rng = StdRng::seed_from_u64(seed);
                    let drawn = s.choose_given(&logits, &lp, banned, &mut rng);
                    let u = StdRng::seed_from_u64(seed).random::<f64>();
                    let (token, logprob) = s.choose_with_uniform(&logits, banned, u);
                    assert_eq!(token, drawn.0, "seed {seed}");
                    assert!((logprob - drawn.1).abs() < 1e-6, "{logprob} vs {}", drawn.1);
                }
            }
        }
        assert!(!sampler(5, 1.0).draws_one_uniform());
    }

    #[test]
    fn banned_token_is_never_chosen() {
        let mut rng = StdRng::seed_from_u64(3);
        let logits = [10.0f32, 0.0, 0.0];
        for _ in 0..100 {
            assert_ne!(sampler(0, 1.0).choose(&logits, Some(0), &mut rng).0, 0);
        }
        let greedy = Sampler {
            do_sample: false,
            ..sampler(0, 1.0)
        };
        assert_eq!(greedy.choose(&logits, Some(0), &mut rng).0, 1);
    }

    #[test]
    fn log_softmax_normalises() {
        let lp = log_softmax(&[1.0, 2.0, 3.0]);
        let total: f32 = lp.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
}
