//! `x·W` for at most 16 rows of `x` (one decoding step of a batch of ≤ 16), with AVX-512.
//!
//! With so few rows a product is one pass over `W`, and its speed is the speed at which `W`
//! streams in from memory. gemm reads `W` as panels of 64 columns, 256 bytes per row of `W`,
//! each a row stride further on, and the hardware prefetchers do not follow that stride: on an
//! Intel Xeon (Emerald Rapids, 2 cores, weights not in cache) a GPT-2 `c_fc` product at 16
//! rows read `W` at 4.2 GB/s through gemm, where a plain read of memory runs at 25 GB/s.
//!
//! Here the 16 rows of `x` are the 16 lanes of a register: `xᵀ` is stored `[k, 16]`, so one
//! load holds `x[.., kk]` for every row. Each element of `W` is broadcast once and multiplied
//! into the column it belongs to, whose 16 row sums sit in one accumulator. Each core takes a
//! block of output columns and sums them into a `[cols, 16]` table, then transposes it into its
//! columns of the `[m, n]` output:
//! - `W` row-major (the blocks' `Conv1D` weights): [`DEPTH`] rows at a time, each read left to
//!   right across the core's columns, which the prefetchers follow.
//! - `W` column-major (the tied LM head, `wteᵀ`): the core's columns are rows of `wte`, read
//!   front to back with the sums in registers throughout, and the next block prefetched.
//!
//! On that Xeon a batch-16 generation of 16 tokens went from 1.16 to ~0.75 s; the products
//! read `W` at 15–20 GB/s (docs/benchmarks.md).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    _MM_HINT_T0, _mm_prefetch, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_storeu_ps,
};

use std::cell::RefCell;

use rayon::prelude::*;

/// Most rows of `x` that [`product`] takes: the lanes of one AVX-512 register.
pub const MAX_ROWS: usize = LANES;

/// f32 lanes of an AVX-512 register.
const LANES: usize = 16;

/// Rows of a row-major `W` read per pass, their `xᵀ` rows held in registers.
const DEPTH: usize = 16;

/// Fewest output columns per core when the columns are split over the cores.
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
    // Each core takes a block of output columns: it reads those columns of W (whole rows of
    // `wte` for the LM head, a run of each row of a `Conv1D` weight), sums them into a
    // `[cols, 16]` table and transposes that into its columns of the `[m, n]` output.
    let threads = rayon::current_num_threads();
    let parts = if n >= threads * MIN_COLS_PER_CORE {
        threads
    } else {
        1
    };
    let width = n.div_ceil(parts).next_multiple_of(LANES);
    let mut out = vec![0.0f32; m * n];
    let mut pieces: Vec<Vec<&mut [f32]>> = (0..n.div_ceil(width)).map(|_| Vec::new()).collect();
    for row in out.chunks_mut(n) {
        for (piece, columns) in pieces.iter_mut().zip(row.chunks_mut(width)) {
            piece.push(columns);
        }
    }
    with_scratch(k * LANES + n * LANES, |scratch| {
        let (xt, tables) = scratch.split_at_mut(k * LANES);
        for (kk, lanes) in xt.chunks_exact_mut(LANES).enumerate() {
            for (i, lane) in lanes.iter_mut().enumerate() {
                *lane = if i < m {
                    x.data[i * x.row_stride + kk * x.col_stride]
                } else {
                    0.0
                };
            }
        }
        let xt = &*xt;
        tables
            .par_chunks_mut(width * LANES)
            .zip(pieces)
            .enumerate()
            .for_each(|(part, (table, mut rows))| {
                let from = part * width;
                if row_major {
                    // SAFETY: AVX-512F is `available`; `w.holds(k, n)` with unit column stride,
                    // so every row has `n - from ≥ cols` elements from `from`; `xt` is `[k, 16]`
                    // and `table` `[cols, 16]`.
                    unsafe { rows_pass(xt, &w.data[from..], w.row_stride, k, table) };
                } else {
                    // SAFETY: AVX-512F is `available`; `w.holds(k, n)` with unit row stride, so
                    // column `c < n` has `k` elements from `c * col_stride`.
                    unsafe { columns_pass(xt, w.data, w.col_stride, k, from, table) };
                }
                transpose(table, &mut rows);
            });
    });
    Some(out)
}

/// `rows[i][c] = table[c, i]`: a `[cols, 16]` table into the `i < m` output rows' columns.
fn transpose(table: &[f32], rows: &mut [&mut [f32]]) {
    // In blocks of 16 columns: each output row gets a run of 16 consecutive values, read from
    // one kilobyte of the table.
    for (block, sums) in table.chunks(LANES * LANES).enumerate() {
        let from = block * LANES;
        for (i, row) in rows.iter_mut().enumerate() {
            for (out, lanes) in row[from..].iter_mut().zip(sums.chunks_exact(LANES)) {
                *out = lanes[i];
            }
        }
    }
}

thread_local! {
    /// [`product`]'s working memory, kept between calls (a decoding step makes ~50 products).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `f` on `len` values of this thread's scratch memory (stale values: `f` writes before it
/// reads), or on a fresh buffer when the scratch is in use further up this thread's stack.
fn with_scratch<T>(len: usize, f: impl FnOnce(&mut [f32]) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            if scratch.len() < len {
                scratch.resize(len, 0.0);
            }
            f(&mut scratch[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Writes into `sums` `[cols, 16]` the products of `xᵀ` with the first `cols` columns of a
/// row-major `W` of `k` rows, `ld` apart.
///
/// # Safety (audited, issue #14)
/// The CPU must have AVX-512F. `xt` is `[k, 16]`, `sums` is `[cols, 16]`, and `w` holds `cols`
/// elements from `r * ld` for every row `r < k`: every pointer below stays inside these bounds.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn rows_pass(xt: &[f32], w: &[f32], ld: usize, k: usize, sums: &mut [f32]) {
    const WIDTH: usize = 4;
    if k < DEPTH {
        // Only the one-row-at-a-time tail below, which adds to `sums`.
        sums.fill(0.0);
    }
    let n = sums.len() / LANES; // this call's columns
    let (xt, w, sums) = (xt.as_ptr(), w.as_ptr(), sums.as_mut_ptr());
    let mut k0 = 0;
    while k0 < k {
        let depth = DEPTH.min(k - k0);
        if depth < DEPTH {
            // The last few rows, one at a time.
            for kk in k0..k {
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
            // SAFETY: row k0 + r < k of xt.
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
                    if k0 > 0 {
                        for (j, a) in acc.iter_mut().enumerate() {
                            *a = _mm512_loadu_ps(s.add(j * LANES));
                        }
                    }
                    // One pointer stepped down the rows (a pointer per row spills).
                    let mut wr = w.add(k0 * ld + c);
                    for x in &xr {
                        for (j, a) in acc.iter_mut().enumerate() {
                            *a = _mm512_fmadd_ps(_mm512_set1_ps(*wr.add(j)), *x, *a);
                        }
                        wr = wr.add(ld);
                    }
                    for (j, a) in acc.iter().enumerate() {
                        _mm512_storeu_ps(s.add(j * LANES), *a);
                    }
                } else {
                    let mut acc = _mm512_setzero_ps();
                    if k0 > 0 {
                        acc = _mm512_loadu_ps(s);
                    }
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
unsafe fn rows_pass(_: &[f32], _: &[f32], _: usize, _: usize, _: &mut [f32]) {
    unreachable!("product checks `available`")
}

/// Never called: `available` is false off x86-64.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn columns_pass(_: &[f32], _: &[f32], _: usize, _: usize, _: usize, _: &mut [f32]) {
    unreachable!("product checks `available`")
}
