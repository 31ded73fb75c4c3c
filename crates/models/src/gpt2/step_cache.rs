//! A layer's keys and values on the host for a sampling loop's one-token steps, and the
//! attention of such a step over them.
//!
//! Through burn, each step appends its key and value with `Tensor::cat` (a copy of the whole
//! cache, every layer, every step), and `attention` copies the strided query, key and value
//! views into contiguous ones. Here the cache is one buffer per layer with room to grow, a
//! step writes its key and value in place, and attention reads them where they are.

use rayon::prelude::*;

/// Keys and values of one layer, `[b, n_head, capacity, head_dim]` each, positions
/// `0..len` filled.
#[derive(Debug, Clone)]
pub struct StepCache {
    key: Vec<f32>,
    value: Vec<f32>,
    shape: CacheShape,
    capacity: usize,
    len: usize,
}

/// Batch rows, heads and head width of a [`StepCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheShape {
    /// Batch rows.
    pub b: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Width of one head.
    pub head_dim: usize,
}

/// Positions a cache makes room for beyond those it starts with.
const HEADROOM: usize = 32;

impl StepCache {
    /// A cache holding `key` and `value`, each `[b, n_head, len, head_dim]` row-major.
    pub fn new(key: &[f32], value: &[f32], shape: CacheShape, len: usize) -> Self {
        let mut cache = StepCache {
            key: Vec::new(),
            value: Vec::new(),
            shape,
            capacity: 0,
            len: 0,
        };
        cache.grow(len + HEADROOM);
        let row = len * shape.head_dim;
        for (head, (k, v)) in key
            .chunks_exact(row)
            .zip(value.chunks_exact(row))
            .enumerate()
        {
            let at = head * cache.capacity * shape.head_dim;
            cache.key[at..at + row].copy_from_slice(k);
            cache.value[at..at + row].copy_from_slice(v);
        }
        cache.len = len;
        cache
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no position is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shape of the cache.
    pub fn shape(&self) -> CacheShape {
        self.shape
    }

    /// Room for `capacity` positions, the cached ones kept.
    fn grow(&mut self, capacity: usize) {
        let CacheShape {
            b,
            n_head,
            head_dim,
        } = self.shape;
        let mut key = vec![0.0; b * n_head * capacity * head_dim];
        let mut value = key.clone();
        let filled = self.len * head_dim;
        for head in 0..b * n_head {
            let (from, to) = (head * self.capacity * head_dim, head * capacity * head_dim);
            key[to..to + filled].copy_from_slice(&self.key[from..from + filled]);
            value[to..to + filled].copy_from_slice(&self.value[from..from + filled]);
        }
        (self.key, self.value, self.capacity) = (key, value, capacity);
    }

    /// One step: appends the key and value in `qkv` (`[b, 3 · n_embd]`, GPT-2's `c_attn` output
    /// of one position: queries, keys, values, each head after head) and returns each row's
    /// attention `[b, n_embd]` (heads side by side) over every cached position that
    /// `padding(row, position)` does not hide.
    pub fn step(&mut self, qkv: &[f32], padding: impl Fn(usize, usize) -> bool + Sync) -> Vec<f32> {
        let CacheShape {
            b,
            n_head,
            head_dim,
        } = self.shape;
        let d = n_head * head_dim;
        if self.len == self.capacity {
            self.grow(2 * self.capacity + HEADROOM);
        }
        let at = self.len;
        let capacity = self.capacity;
        let head_row = |row: usize, part: usize, head: usize| {
            let from = row * 3 * d + part * d + head * head_dim;
            &qkv[from..from + head_dim]
        };
        for row in 0..b {
            for head in 0..n_head {
                let to = ((row * n_head + head) * capacity + at) * head_dim;
                self.key[to..to + head_dim].copy_from_slice(head_row(row, 1, head));
                self.value[to..to + head_dim].copy_from_slice(head_row(row, 2, head));
            }
        }
        self.len += 1;
        let (keys, values, len) = (&self.key, &self.value, self.len);
        let scale = 1.0 / (head_dim as f32).sqrt();
        let mut context = vec![0.0f32; b * d];
        context
            .par_chunks_mut(head_dim)
            .enumerate()
            .for_each(|(index, out)| {
                let (row, head) = (index / n_head, index % n_head);
                let base = index * capacity * head_dim;
                let key = |j: usize| &keys[base + j * head_dim..base + (j + 1) * head_dim];
                let value = |j: usize| &values[base + j * head_dim..base + (j + 1) * head_dim];
                let query = head_row(row, 0, head);
                attend(query, len, key, value, |j| padding(row, j), scale, out);
            });
        context
    }
}

/// `out = Σ_j softmax_j(scale · q·k_j) v_j` over the positions `j < len` that `hidden` does not
/// hide (`out` stays 0 when every position is hidden).
fn attend<'a>(
    query: &[f32],
    len: usize,
    key: impl Fn(usize) -> &'a [f32],
    value: impl Fn(usize) -> &'a [f32],
    hidden: impl Fn(usize) -> bool,
    scale: f32,
    out: &mut [f32],
) {
    let scores: Vec<f32> = (0..len)
        .map(|j| {
            if hidden(j) {
                f32::NEG_INFINITY
            } else {
                scale * dot(query, key(j))
            }
        })
        .collect();
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return;
    }
    let mut total = 0.0f32;
    for (j, &score) in scores.iter().enumerate() {
        let weight = (score - max).exp();
        if weight > 0.0 {
            total += weight;
            out.iter_mut()
                .zip(value(j))
                .for_each(|(o, v)| *o += weight * v);
        }
    }
    out.iter_mut().for_each(|o| *o /= total);
}

/// `a · b` in 16 running sums (one AVX-512 register; a single running sum would make each
/// addition wait for the one before).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let (a_blocks, b_blocks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_blocks
        .remainder()
        .iter()
        .zip(b_blocks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut sums = [0.0f32; LANES];
    for (x, y) in a_blocks.zip(b_blocks) {
        for ((s, x), y) in sums.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::{CacheShape, StepCache};

    /// Forty steps from two cached positions (past the first capacity, so the cache grows)
    /// against attention computed from every key and value kept aside.
    #[test]
    fn steps_attend_over_everything_cached_and_grow() {
        let shape = CacheShape {
            b: 2,
            n_head: 2,
            head_dim: 3,
        };
        let d = shape.n_head * shape.head_dim;
        let value_at = |i: usize| ((i * 7919) % 23) as f32 / 23.0 - 0.5;
        // Per (row, head): every key and value so far.
        let mut keys = vec![Vec::<Vec<f32>>::new(); 4];
        let mut values = keys.clone();
        let mut start_k = Vec::new();
        let mut start_v = Vec::new();
        for (rh, (ks, vs)) in keys.iter_mut().zip(values.iter_mut()).enumerate() {
            for j in 0..2 {
                let k: Vec<f32> = (0..3).map(|i| value_at(100 * rh + 10 * j + i)).collect();
                let v: Vec<f32> = (0..3)
                    .map(|i| value_at(1000 + 100 * rh + 10 * j + i))
                    .collect();
                start_k.extend_from_slice(&k);
                start_v.extend_from_slice(&v);
                ks.push(k);
                vs.push(v);
            }
        }
        let mut cache = StepCache::new(&start_k, &start_v, shape, 2);
        let hidden = |row: usize, j: usize| row == 1 && j == 0;
        for step in 0..40 {
            let qkv: Vec<f32> = (0..2 * 3 * d).map(|i| value_at(7 * step + i)).collect();
            let context = cache.step(&qkv, hidden);
            for row in 0..2 {
                for head in 0..2 {
                    let part = |p: usize| {
                        let from = row * 3 * d + p * d + head * 3;
                        qkv[from..from + 3].to_vec()
                    };
                    let rh = row * 2 + head;
                    keys[rh].push(part(1));
                    values[rh].push(part(2));
                    let scores: Vec<f64> = keys[rh]
                        .iter()
                        .enumerate()
                        .map(|(j, k)| {
                            let dot: f64 =
                                part(0).iter().zip(k).map(|(q, k)| f64::from(q * k)).sum();
                            if hidden(row, j) {
                                f64::NEG_INFINITY
                            } else {
                                dot / 3f64.sqrt()
                            }
                        })
                        .collect();
                    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let total: f64 = weights.iter().sum();
                    for i in 0..3 {
                        let want: f64 = weights
                            .iter()
                            .zip(&values[rh])
                            .map(|(w, v)| w * f64::from(v[i]))
                            .sum::<f64>()
                            / total;
                        let got = context[row * d + head * 3 + i];
                        assert!(
                            (f64::from(got) - want).abs() < 1e-5,
                            "step {step}: {got} vs {want}"
                        );
                    }
                }
            }
        }
        assert_eq!(cache.len(), 42);
    }
}
