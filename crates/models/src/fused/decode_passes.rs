//! The passes over `W` of `decode.rs`'s product, with AVX-512 (see there for the layout):
//! row-major `W` a few rows at a time, column-major `W` a few columns at a time.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    _MM_HINT_T0, _mm_prefetch, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_storeu_ps,
};

use super::decode::LANES;

/// Rows of a row-major `W` read per pass, their `xᵀ` rows held in registers.
const DEPTH: usize = 16;

/// Writes into `sums` `[cols, 16]` the products of `xᵀ` with the first `cols` columns of a
/// row-major `W` of `k` rows, `ld` apart.
///
/// # Safety (audited, issue #14)
/// The CPU must have AVX-512F. `xt` is `[k, 16]`, `sums` is `[cols, 16]`, and `w` holds `cols`
/// elements from `r * ld` for every row `r < k`: every pointer below stays inside these bounds.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn rows_pass(xt: &[f32], w: &[f32], ld: usize, k: usize, sums: &mut [f32]) {
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
pub(super) unsafe fn columns_pass(
    xt: &[f32],
    w: &[f32],
    ld: usize,
    k: usize,
    from: usize,
    sums: &mut [f32],
) {
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
pub(super) unsafe fn rows_pass(_: &[f32], _: &[f32], _: usize, _: usize, _: &mut [f32]) {
    unreachable!("product checks `available`")
}

/// Never called: `available` is false off x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn columns_pass(
    _: &[f32],
    _: &[f32],
    _: usize,
    _: usize,
    _: usize,
    _: &mut [f32],
) {
    unreachable!("product checks `available`")
}
