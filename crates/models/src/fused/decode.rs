//! `x·W` for at most 16 rows of `x` (one decoding step of a batch of ≤ 16), with AVX-512.
//!
//! With so few rows a product is one pass over `W`, and its speed is the speed at which `W`
//! streams in from memory. gemm reads `W` as panels of 64 columns, 256 bytes per row of `W`,
//! each a row stride further on, and the hardware prefetchers do not follow that stride: on an
//! Intel Xeon (Emerald Rapids, 2 cores, weights not in cache) a GPT-2 `c_fc` product at 16
//! rows read `W` at 4.2 GB/s through gemm, where a plain read of memory runs at 25 GB/s.
//!
//! Here the 16 rows of `x` are the 16 lanes of a register: `xᵀ` is stored `[k, 16]`, so one
//! load holds `x[.., k]` for every row. Each element of `W` is broadcast once and multiplied
//! into the column it belongs to, whose 16 row sums sit in one accumulator:
//! - `W` row-major (the blocks' `Conv1D` weights): each core takes a contiguous run of `W`'s
//!   rows and reads it front to back, [`DEPTH`] rows at a time; the cores' partial sums are
//!   added at the end.
//! - `W` column-major (the tied LM head, `wteᵀ`): each core takes a run of `W`'s columns, the
//!   rows of `wte`, and reads them front to back with the sums in registers throughout.
//!
//! The result, `[n, 16]` per core, is transposed into the row-major `[m, n]` output.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    _MM_HINT_T0, _mm_prefetch, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_storeu_ps,
};

use rayon::prelude::*;

/// Most rows of `x` that [`product`] takes: the lanes of one AVX-512 register.
pub const MAX_ROWS: usize = LANES;

/// f32 lanes of an AVX-512 register.
const LANES: usize = 16;

/// Rows of a row-major `W` read per pass, their `xᵀ` rows held in registers.
const DEPTH: usize = 16;

/// Fewest rows of a row-major `W` per core when its rows are split over the cores.
const MIN_DEPTH_PER_CORE: usize = 64;

/// Fewest columns of a column-major `W` per core when its columns are split over the cores.
const MIN_COLS_PER_CORE: usize = 256;

/// A matrix read through strides: element `(r, c)` is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl Strided<'_> {
    /// Whether a `rows × cols` matrix lies inside `data`.
    fn holds(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1)
                .checked_mul(self.row_stride)
                .zip((cols - 1).checked_mul(self.col_stride))
                .and_then(|(a, b)| a.checked_add(b))
                .is_some_and(|last| last < self.data.len())
    }
}

/// Whether this CPU runs [`product`] (AVX-512F, detected at run time).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `x · W` → `[m, n]` row-major, for `x` `[m, k]` and `W` `[k, n]`, `W` row-major
/// (`col_stride` 1) or column-major (`row_stride` 1). `None` when [`available`] is false, `m`
/// is 0 or above [`MAX_ROWS`], `W` is neither, or an operand does not lie inside its slice.
#[allow(unsafe_code)]
pub fn product(x: Strided<'_>, [m, k, n]: [usize; 3], w: Strided<'_>) -> Option<Vec<f32>> {
    let row_major = w.col_stride == 1;
    let supported = row_major || w.row_stride == 1;
    if !available() || m == 0 || m > MAX_ROWS || !supported || !x.holds(m, k) || !w.holds(k, n) {
        return None;
    }
    if k == 0 || n == 0 {
        return Some(vec![0.0; m * n]);
    }
    let mut xt = vec![0.0f32; k * LANES];
    for (kk, lanes) in xt.chunks_exact_mut(LANES).enumerate() {
        for (i, lane) in lanes[..m].iter_mut().enumerate() {
            *lane = x.data[i * x.row_stride + kk * x.col_stride];
        }
    }
    let threads = rayon::current_num_threads();
    let partials: Vec<Vec<f32>> = if row_major {
        let parts = if k >= threads * MIN_DEPTH_PER_CORE {
            threads
        } else {
            1
        };
        let span = k.div_ceil(parts);
        (0..k.div_ceil(span))
            .into_par_iter()
            .map(|part| {
                let rows = part * span..(part * span + span).min(k);
                let mut sums = vec![0.0f32; n * LANES];
                // SAFETY: AVX-512F is `available`; `w.holds(k, n)` with unit column stride, so
                // every row in `rows` has `n` elements in `w.data`; `xt` is `[k, 16]` and `sums`
                // is `[n, 16]`.
                unsafe { rows_pass(&xt, w.data, w.row_stride, rows, &mut sums) };
                sums
            })
            .collect()
    } else {
        let parts = if n >= threads * MIN_COLS_PER_CORE {
            threads
        } else {
            1
        };
        let width = n.div_ceil(parts);
        let mut sums = vec![0.0f32; n * LANES];
        sums.par_chunks_mut(width * LANES)
            .enumerate()
            .for_each(|(part, sums)| {
                let from = part * width;
                // SAFETY: AVX-512F is `available`; `w.holds(k, n)` with unit row stride, so column
                // `c < n` has `k` elements from `c * col_stride`; `sums` holds this part's columns.
                unsafe { columns_pass(&xt, w.data, w.col_stride, k, from, sums) };
            });
        vec![sums]
    };
    Some(transpose_sum(&partials, m, n))
}

/// `out[i, j] = Σ_p partials[p][j, i]` for `i < m`: the `[n, 16]` sums into a `[m, n]` output,
/// a block of [`TRANSPOSE_COLS`] columns per task (each partial read once, in order).
fn transpose_sum(partials: &[Vec<f32>], m: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; m * n];
    let mut blocks: Vec<Vec<&mut [f32]>> = (0..n.div_ceil(TRANSPOSE_COLS))
        .map(|_| Vec::new())
        .collect();
    for row in out.chunks_mut(n) {
        for (block, piece) in blocks.iter_mut().zip(row.chunks_mut(TRANSPOSE_COLS)) {
            block.push(piece);
        }
    }
    blocks
        .into_par_iter()
        .enumerate()
        .for_each(|(block, mut rows)| {
            let from = block * TRANSPOSE_COLS;
            for c in 0..rows[0].len() {
                let at = (from + c) * LANES;
                let mut lanes = [0.0f32; LANES];
                for part in partials {
                    for (lane, v) in lanes.iter_mut().zip(&part[at..at + LANES]) {
                        *lane += v;
                    }
                }
                for (row, lane) in rows.iter_mut().zip(lanes) {
                    row[c] = lane;
                }
            }
        });
    out
}

/// Output columns per task in [`transpose_sum`].
const TRANSPOSE_COLS: usize = 512;

/// Adds rows `rows` of a row-major `W` (rows `ld` apart) times `xᵀ` into `sums` `[n, 16]`.
///
/// # Safety (audited, issue #14)
/// The CPU must have AVX-512F. `xt` is `[k, 16]` with `rows.end ≤ k`, `sums` is `[n, 16]`, and
/// `w` holds `n` elements from `r * ld` for every `r` in `rows`: every pointer below stays
/// inside these bounds.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn rows_pass(
    xt: &[f32],
    w: &[f32],
    ld: usize,
    rows: std::ops::Range<usize>,
    sums: &mut [f32],
) {
    const WIDTH: usize = 4;
    let n = sums.len() / LANES;
    let (xt, w, sums) = (xt.as_ptr(), w.as_ptr(), sums.as_mut_ptr());
    let mut k0 = rows.start;
    while k0 < rows.end {
        let depth = DEPTH.min(rows.end - k0);
        if depth < DEPTH {
            // The last few rows, one at a time.
            for kk in k0..rows.end {
                // SAFETY: row kk < k of xt and of W; columns c < n of sums and of W's row.
                unsafe {
                    let xv = _mm512_loadu_ps(xt.add(kk * LANES));
                    for c in 0..n {
                        let s = sums.add(c * LANES);
                        let wv = _mm512_set1_ps(*w.add(kk * ld + c));
                        _mm512_storeu_ps(s, _mm512_fmadd_ps(wv, xv, _mm512_loadu_ps(s)));
                    }
                }
            }
            break;
        }
        let mut xr = [_mm512_setzero_ps(); DEPTH];
        for (r, x) in xr.iter_mut().enumerate() {
            // SAFETY: row k0 + r < rows.end ≤ k of xt.
            *x = unsafe { _mm512_loadu_ps(xt.add((k0 + r) * LANES)) };
        }
        let mut c = 0;
        while c < n {
            let width = if c + WIDTH <= n { WIDTH } else { 1 };
            // SAFETY: columns c..c + width ≤ n of sums and of W's rows k0..k0 + DEPTH.
            unsafe {
                let s = sums.add(c * LANES);
                if width == WIDTH {
                    let mut acc = [_mm512_setzero_ps(); WIDTH];
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_loadu_ps(s.add(j * LANES));
                    }
                    for (r, x) in xr.iter().enumerate() {
                        let wr = w.add((k0 + r) * ld + c);
                        for (j, a) in acc.iter_mut().enumerate() {
                            *a = _mm512_fmadd_ps(_mm512_set1_ps(*wr.add(j)), *x, *a);
                        }
                    }
                    for (j, a) in acc.iter().enumerate() {
                        _mm512_storeu_ps(s.add(j * LANES), *a);
                    }
                } else {
                    let mut acc = _mm512_loadu_ps(s);
                    for (r, x) in xr.iter().enumerate() {
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(*w.add((k0 + r) * ld + c)), *x, acc);
                    }
                    _mm512_storeu_ps(s, acc);
                }
            }
            c += width;
        }
        k0 += DEPTH;
    }
}

/// Writes into `sums` `[cols, 16]` the products of `xᵀ` with columns `from..from + cols` of a
/// column-major `W` (column `c` is `w[c * ld..][..k]`).
///
/// # Safety (audited, issue #14)
/// The CPU must have AVX-512F. `xt` is `[k, 16]`, and `w` holds `k` elements from `c * ld` for
/// every column `c < from + cols`: every pointer below stays inside these bounds.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn columns_pass(xt: &[f32], w: &[f32], ld: usize, k: usize, from: usize, sums: &mut [f32]) {
    const WIDTH: usize = 8;
    let cols = sums.len() / LANES;
    let (xt, w, sums) = (xt.as_ptr(), w.as_ptr(), sums.as_mut_ptr());
    let mut c = 0;
    while c < cols {
        // SAFETY: columns from + c.. of W (below from + cols), columns c.. of sums (below cols).
        unsafe {
            let (col, out) = (w.add((from + c) * ld), sums.add(c * LANES));
            if c + WIDTH <= cols {
                column_block::<WIDTH>(xt, col, ld, k, out);
                c += WIDTH;
            } else {
                column_block::<1>(xt, col, ld, k, out);
                c += 1;
            }
        }
    }
}

/// `sums[j, ..] = Σ_kk col_j[kk] · xᵀ[kk, ..]` for the `COLS` columns `col_j = col + j·ld`, the
/// sums held in registers over all of `k`.
///
/// # Safety (audited, issue #14)
/// AVX-512F; `xt` holds `k · 16` elements, `col` holds `k` elements from `j · ld` for every
/// `j < COLS`, and `sums` holds `COLS · 16`.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn column_block<const COLS: usize>(
    xt: *const f32,
    col: *const f32,
    ld: usize,
    k: usize,
    sums: *mut f32,
) {
    const STEP: usize = 8;
    let mut acc = [_mm512_setzero_ps(); COLS];
    // SAFETY: rows kk < k of xt and of each column, and COLS rows of sums (see above).
    unsafe {
        let mut k0 = 0;
        while k0 + STEP <= k {
            let mut xr = [_mm512_setzero_ps(); STEP];
            for (r, x) in xr.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(xt.add((k0 + r) * LANES));
            }
            for (j, a) in acc.iter_mut().enumerate() {
                let wc = col.add(j * ld + k0);
                if k0 % 16 == 0 {
                    _mm_prefetch::<_MM_HINT_T0>(wc.add(COLS * ld) as *const i8);
                }
                for (r, x) in xr.iter().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_set1_ps(*wc.add(r)), *x, *a);
                }
            }
            k0 += STEP;
        }
        for kk in k0..k {
            let xv = _mm512_loadu_ps(xt.add(kk * LANES));
            for (j, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(_mm512_set1_ps(*col.add(j * ld + kk)), xv, *a);
            }
        }
        for (j, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(sums.add(j * LANES), *a);
        }
    }
}

/// Never called: `available` is false off x86-64.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn rows_pass(_: &[f32], _: &[f32], _: usize, _: std::ops::Range<usize>, _: &mut [f32]) {
    unreachable!("product checks `available`")
}

/// Never called: `available` is false off x86-64.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn columns_pass(_: &[f32], _: &[f32], _: usize, _: usize, _: usize, _: &mut [f32]) {
    unreachable!("product checks `available`")
}
