//! The f32 loops behind the fused ops, split over rayon's current pool (`rlhf`'s compute pool).
//!
//! burn-flex runs each element-wise op as its own single-threaded pass; these do the whole
//! function (and its derivative) in one pass over all cores. They use the same f32 operations
//! as the tensor ops they replace, except that the exact GELU (and `gelu_new` inside a sampling
//! loop) take `e^z` and `erfc` from `fast_math.rs` (vectorised; within 2 ulp of libm's `expf`,
//! and 10⁻⁶ of `erfc` relative), and the log-softmax sums its exponentials in f64.

use rayon::prelude::*;

use super::fast_math::{self, erfc_nonnegative, exp, sigmoid};
use crate::sampling::log_softmax_in_place;

/// Elements per parallel task: large enough to outweigh its scheduling, small enough that a
/// `[16, 21, 3072]` activation splits across many tasks.
const CHUNK: usize = 1 << 14;

/// `2·√(2/π)`, as [`crate::gpt2::gelu_new`] computes it (in f64, then rounded).
const C1_F64: f64 = 2.0 * 0.797_884_560_802_865_4;
/// `c₁` in f32.
const C1: f32 = C1_F64 as f32;
/// `0.044715·c₁` in f32.
const C2: f32 = (0.044_715 * C1_F64) as f32;

/// `gelu_new(x) = x·σ(x·(c₁ + c₂·x²))`, operation by operation as the tensor chain (burn-flex's
/// sigmoid, libm's `expf`): bit-identical to it.
fn gelu_new_one(x: f32) -> f32 {
    let z = (x * x * C2 + C1) * x;
    let s = if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    };
    x * s
}

/// [`gelu_new_one`] with the vectorised [`sigmoid`] (within 10⁻⁶).
#[inline(always)]
fn gelu_new_fast(x: f32) -> f32 {
    x * sigmoid((x * x * C2 + C1) * x)
}

/// `d gelu_new / dx = σ(u) + x·σ(u)·(1 − σ(u))·(c₁ + 3·c₂·x²)` with `u = x·(c₁ + c₂·x²)`.
#[inline(always)]
fn gelu_new_slope(x: f32) -> f32 {
    let x2 = x * x;
    let s = sigmoid((x2 * C2 + C1) * x);
    s + x * s * (1.0 - s) * (C1 + 3.0 * C2 * x2)
}

/// `gelu_new` of every value, in place.
///
/// Inside [`super::while_decoding`] (a sampling loop) with the vectorised sigmoid; elsewhere
/// bit-identical to the tensor chain, so that the policy and a reference that takes the chain
/// (another backend, a bf16 frozen copy) agree exactly at step 1.
pub fn gelu_new(values: &mut [f32]) {
    if super::decoding() {
        values
            .par_chunks_mut(CHUNK)
            .for_each(|chunk| fast_math::map(chunk, gelu_new_fast));
    } else {
        values
            .par_iter_mut()
            .with_min_len(CHUNK)
            .for_each(|v| *v = gelu_new_one(*v));
    }
}

/// The backward of `gelu_new`: `grad ← grad · gelu_new'(x)`, in place.
pub fn gelu_new_backward(x: &[f32], grad: &mut [f32]) {
    grad.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(grad, x)| fast_math::scale(x, grad, gelu_new_slope));
}

/// The exact GELU, `0.5·x·(1 + erf(x/√2))`, as `x·(1 − ½·erfc(x/√2))` for `x ≥ 0` and
/// `½·x·erfc(|x|/√2)` below (the vectorised [`erfc_nonnegative`]).
#[inline(always)]
fn gelu_one(x: f32) -> f32 {
    let half_erfc = 0.5 * erfc_nonnegative(x.abs() * std::f32::consts::FRAC_1_SQRT_2);
    if x >= 0.0 {
        x * (1.0 - half_erfc)
    } else {
        x * half_erfc
    }
}

/// `d gelu / dx = Φ(x) + x·φ(x)`, with `Φ` from [`erfc_nonnegative`] as in [`gelu_one`].
#[inline(always)]
fn gelu_slope(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let half_erfc = 0.5 * erfc_nonnegative(x.abs() * std::f32::consts::FRAC_1_SQRT_2);
    let cdf = if x >= 0.0 { 1.0 - half_erfc } else { half_erfc };
    cdf + x * INV_SQRT_2PI * exp(-0.5 * x * x)
}

/// The exact GELU of every value, in place.
pub fn gelu(values: &mut [f32]) {
    values
        .par_chunks_mut(CHUNK)
        .for_each(|chunk| fast_math::map(chunk, gelu_one));
}

/// The backward of the exact GELU: `grad ← grad · gelu'(x)`, in place.
pub fn gelu_backward(x: &[f32], grad: &mut [f32]) {
    grad.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(grad, x)| fast_math::scale(x, grad, gelu_slope));
}

/// Rows per parallel task for rows of `row` values.
fn rows_per_task(row: usize) -> usize {
    (CHUNK / row.max(1)).max(1)
}

/// Log-softmax of each row of `row` values, in place
/// ([`crate::sampling::log_softmax_in_place`]: the sum taken in f64).
pub fn log_softmax_rows(values: &mut [f32], row: usize) {
    values
        .par_chunks_mut(row.max(1))
        .with_min_len(rows_per_task(row))
        .for_each(log_softmax_in_place);
}

/// The backward of the row log-softmax from its output: `grad ← grad − e^output · Σ grad` per
/// row, in place (the sum in f64). `output` and `grad` have the same length.
pub fn log_softmax_backward_rows(output: &[f32], grad: &mut [f32], row: usize) {
    grad.par_chunks_mut(row.max(1))
        .zip(output.par_chunks(row.max(1)))
        .with_min_len(rows_per_task(row))
        .for_each(|(g, o)| {
            let total = g.iter().map(|&v| f64::from(v)).sum::<f64>() as f32;
            for (gi, &oi) in g.iter_mut().zip(o) {
                *gi -= oi.exp() * total;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `gelu_new` by its tanh formula, in f64.
    fn gelu_new_reference(x: f64) -> f64 {
        let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044_715 * x.powi(3));
        0.5 * x * (1.0 + inner.tanh())
    }

    /// Values across the range a GPT-2 activation takes, both signs, and a few past it.
    fn samples() -> Vec<f32> {
        (0..4001).map(|i| (i as f32 - 2000.0) / 150.0).collect()
    }

    #[test]
    fn gelu_new_is_the_tanh_formula() {
        let x = samples();
        let mut y = x.clone();
        gelu_new(&mut y);
        for (&x, &y) in x.iter().zip(&y) {
            let want = gelu_new_reference(f64::from(x));
            assert!(
                (f64::from(y) - want).abs() < 2e-6 * (1.0 + want.abs()),
                "x={x}: {y} vs {want}"
            );
        }
    }

    #[test]
    fn gelu_new_backward_is_the_central_difference() {
        let x = samples();
        let mut grad = vec![1.5f32; x.len()];
        gelu_new_backward(&x, &mut grad);
        for (&x, &g) in x.iter().zip(&grad) {
            let (x64, h) = (f64::from(x), 1e-4);
            let want =
                1.5 * (gelu_new_reference(x64 + h) - gelu_new_reference(x64 - h)) / (2.0 * h);
            assert!(
                (f64::from(g) - want).abs() < 1e-5 * (1.0 + want.abs()),
                "x={x}: {g} vs {want}"
            );
        }
    }

    #[test]
    fn gelu_backward_is_the_central_difference() {
        let x = samples();
        let mut grad = vec![0.5f32; x.len()];
        gelu_backward(&x, &mut grad);
        let at = |h: f32| {
            let mut y: Vec<f32> = x.iter().map(|&v| v + h).collect();
            gelu(&mut y);
            y
        };
        let (up, down) = (at(1e-2), at(-1e-2));
        for i in 0..x.len() {
            let want = 0.5 * (up[i] - down[i]) / 2e-2;
            assert!(
                (grad[i] - want).abs() < 2e-3 * (1.0 + want.abs()),
                "x={}: {} vs {want}",
                x[i],
                grad[i]
            );
        }
    }

    #[test]
    fn log_softmax_rows_normalise_and_keep_differences() {
        let row = 7;
        let x: Vec<f32> = (0..3 * row)
            .map(|i| ((i * 37) % 11) as f32 * 3.1 - 15.0)
            .collect();
        let mut y = x.clone();
        log_softmax_rows(&mut y, row);
        for (xr, yr) in x.chunks(row).zip(y.chunks(row)) {
            let total: f64 = yr.iter().map(|&v| f64::from(v).exp()).sum();
            assert!((total - 1.0).abs() < 1e-6, "{total}");
            for i in 1..row {
                assert!(((yr[i] - yr[0]) - (xr[i] - xr[0])).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn log_softmax_backward_is_the_jacobian_product() {
        let row = 5;
        let x = [0.3f32, -1.2, 2.0, 0.0, 4.5];
        let g = [0.7f32, -0.1, 0.0, 1.3, -2.0];
        let mut out = x.to_vec();
        log_softmax_rows(&mut out, row);
        let mut grad = g.to_vec();
        log_softmax_backward_rows(&out, &mut grad, row);
        // d out_i / d x_j = δ_ij − p_j, so grad_x_j = g_j − p_j · Σ_i g_i.
        let p: Vec<f64> = out.iter().map(|&o| f64::from(o).exp()).collect();
        let total: f64 = g.iter().map(|&v| f64::from(v)).sum();
        for j in 0..row {
            let want = f64::from(g[j]) - p[j] * total;
            assert!(
                (f64::from(grad[j]) - want).abs() < 1e-6,
                "{j}: {} vs {want}",
                grad[j]
            );
        }
    }
}
