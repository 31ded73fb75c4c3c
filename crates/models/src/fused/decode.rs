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
//! - `W` row-major (the blocks' `Conv1D` weights): 16 rows at a time, each read left to right
//!   across the core's columns, which the prefetchers follow.
//! - `W` column-major (the tied LM head, `wteᵀ`): the core's columns are rows of `wte`, read
//!   front to back with the sums in registers throughout, and the next block prefetched.
//!
//! Those two passes are in `decode_passes.rs`.
//!
//! On that Xeon a batch-16 generation of 16 tokens went from 1.16 to ~0.75 s; the products
//! read `W` at 15–20 GB/s (docs/benchmarks.md).

use std::cell::RefCell;

use rayon::prelude::*;

use super::decode_passes::{columns_pass, rows_pass};

/// Most rows of `x` that [`product`] takes: the lanes of one AVX-512 register.
pub const MAX_ROWS: usize = LANES;

/// f32 lanes of an AVX-512 register.
pub(super) const LANES: usize = 16;

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
