//! `x·W` on burn-flex f32 tensors, plain and under autodiff, with gemm called directly.
//!
//! burn-flex's matmul allocates each product as a zeroed byte buffer, which its byte container
//! then copies once more into an aligned one: two single-threaded passes over every output on
//! top of the product (a GPT-2 MLP `c_fc` product at a PPO mini-batch: 7.5 ms where gemm alone
//! takes 4.1). Here gemm writes straight into the output's own `Vec<f32>`, and transposed
//! operands are read through their strides, never copied.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
use burn::backend::flex::FlexTensor;
use burn::tensor::{Shape, TensorData};

use rayon::prelude::*;

use super::decode::{self, Strided};
use super::flex::AutodiffFlexTensor;

/// Products of at least this many multiply-adds split over the cores (burn-flex's own rule).
const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// An f32 flex tensor read as a `rows × cols` matrix: rank 2 with any non-negative strides, or a
/// contiguous tensor of higher rank with its leading dimensions as rows.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    storage: &'a [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// The view of `tensor`, or `None` when its layout is not one of the two above (negative
    /// strides, a strided tensor of rank ≠ 2) or points outside its storage.
    fn of(tensor: &'a FlexTensor) -> Option<Self> {
        let layout = tensor.layout();
        let dims = layout.shape();
        let cols = *dims.last()?;
        let (rows, row_stride, col_stride) = match layout.as_2d_strides() {
            Some((rows, _, rs, cs)) => (rows, usize::try_from(rs).ok()?, usize::try_from(cs).ok()?),
            None if layout.is_contiguous() && dims.num_dims() > 2 => {
                (layout.num_elements() / cols.max(1), cols, 1)
            }
            None => return None,
        };
        let matrix = Self {
            storage: tensor.storage::<f32>(),
            offset: layout.start_offset(),
            rows,
            cols,
            row_stride,
            col_stride,
        };
        (matrix.last_offset() < matrix.storage.len()).then_some(matrix)
    }

    /// The offset of the last element read (the start when the matrix is empty).
    fn last_offset(&self) -> usize {
        self.offset
            + self.rows.saturating_sub(1) * self.row_stride
            + self.cols.saturating_sub(1) * self.col_stride
    }

    /// Columns `from..from + len` (within the matrix, so inside its storage).
    fn columns(&self, from: usize, len: usize) -> Self {
        assert!(from + len <= self.cols, "column block outside the matrix");
        Self {
            offset: self.offset + from * self.col_stride,
            cols: len,
            ..*self
        }
    }

    /// The same view as [`decode`] takes it.
    fn strided(&self) -> Strided<'a> {
        Strided {
            data: &self.storage[self.offset..],
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

    /// The transposed view (no copy).
    fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `tensor` itself when [`Matrix::of`] can read it, else a contiguous copy.
fn readable(tensor: FlexTensor) -> FlexTensor {
    match Matrix::of(&tensor) {
        Some(_) => tensor,
        None => tensor.to_contiguous(),
    }
}

/// The matrix view of a tensor that went through [`readable`].
fn view(tensor: &FlexTensor) -> Matrix<'_> {
    Matrix::of(tensor).expect("a contiguous tensor is readable as a matrix")
}

/// `lhs · rhs`: `[m, k]` · `[k, n]` → `m·n` values, row-major.
///
/// At most 16 rows inside [`super::while_decoding`] (a sampling step) go to
/// [`decode::product`] where the CPU has AVX-512.
///
/// Large products with a row-major `lhs` (every forward product and every `dX = dY · Wᵀ`) run
/// as one single-threaded gemm per core, each on its own block of output columns: gemm's own
/// split packs the operand on the calling thread while the other cores wait, and at PPO
/// mini-batch shapes on 2 cores it reaches 150–280 GFLOP/s for the `dX` products against
/// 260–400 for the column blocks (docs/benchmarks.md). Other large products use gemm's split.
#[allow(unsafe_code)]
fn product(lhs: &Matrix<'_>, rhs: &Matrix<'_>) -> Vec<f32> {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(k, rhs.rows, "matmul: inner dimensions differ");
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0; m * n];
    }
    if m <= decode::MAX_ROWS
        && super::decoding()
        && let Some(out) = decode::product(lhs.strided(), [m, k, n], rhs.strided())
    {
        return out;
    }
    let large = m.saturating_mul(n).saturating_mul(k) >= PARALLEL_THRESHOLD;
    let threads = rayon::current_num_threads();
    let mut out = Vec::<f32>::with_capacity(m * n);
    let dst = Dst(out.as_mut_ptr());
    if large && threads > 1 && lhs.col_stride == 1 && n >= threads * MIN_BLOCK_COLS {
        let width = n.div_ceil(threads).next_multiple_of(16);
        (0..n.div_ceil(width)).into_par_iter().for_each(|block| {
            let from = block * width;
            let cols = width.min(n - from);
            // SAFETY: see `gemm_into`; the blocks' columns are disjoint, so no element of `out`
            // is written by two threads.
            unsafe {
                gemm_into(
                    dst.at(from),
                    n,
                    lhs,
                    &rhs.columns(from, cols),
                    gemm::Parallelism::None,
                )
            };
        });
    } else {
        let parallelism = if large {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: see `gemm_into`.
        unsafe { gemm_into(dst.at(0), n, lhs, rhs, parallelism) };
    }
    // SAFETY: the calls above wrote each of the m·n elements (all the column blocks together).
    unsafe { out.set_len(m * n) };
    out
}

/// Fewest output columns per core for the column-block split.
const MIN_BLOCK_COLS: usize = 128;

/// A pointer into the output, shared by the threads that write its disjoint column blocks.
#[derive(Clone, Copy)]
struct Dst(*mut f32);

// SAFETY: `Dst` only crosses threads inside `product`, where each thread writes its own columns.
#[allow(unsafe_code)]
unsafe impl Send for Dst {}
#[allow(unsafe_code)]
unsafe impl Sync for Dst {}

impl Dst {
    /// The pointer `offset` elements on (within the output's capacity).
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// Writes `lhs · rhs` (`[m, k]` · `[k, n]`) to `dst`, rows `dst_row_stride` apart.
///
/// # Safety (audited, issue #14)
/// `dst + i·dst_row_stride + j` must be valid for writes for i < m, j < n, and no other thread
/// may touch those elements during the call. gemm reads `lhs` at `offset + i·row_stride +
/// j·col_stride`, whose largest value is `last_offset`, checked by `Matrix::of` (and kept by
/// `Matrix::columns`) to lie inside its storage; likewise `rhs`. With `read_dst = false` it
/// writes each element once and reads none, so `dst` may be uninitialised.
#[allow(unsafe_code)]
unsafe fn gemm_into(
    dst: *mut f32,
    dst_row_stride: usize,
    lhs: &Matrix<'_>,
    rhs: &Matrix<'_>,
    parallelism: gemm::Parallelism,
) {
    let stride = |s: usize| isize::try_from(s).expect("a tensor stride fits isize");
    unsafe {
        gemm::gemm(
            lhs.rows,
            rhs.cols,
            lhs.cols,
            dst,
            1,
            stride(dst_row_stride),
            false,
            lhs.storage.as_ptr().add(lhs.offset),
            stride(lhs.col_stride),
            stride(lhs.row_stride),
            rhs.storage.as_ptr().add(rhs.offset),
            stride(rhs.col_stride),
            stride(rhs.row_stride),
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A tensor of `shape` holding `values` (no copy).
fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// `x · w` of plain f32 flex tensors: `[.., k]` · `[k, n]` → `[.., n]`.
pub fn matmul(x: FlexTensor, w: FlexTensor) -> FlexTensor {
    let (x, w) = (readable(x), readable(w));
    let mut shape = x.layout().shape().clone();
    let last = shape.num_dims() - 1;
    shape[last] = w.layout().shape()[1];
    tensor(product(&view(&x), &view(&w)), shape)
}

/// Backward of [`matmul_autodiff`]; its state is `(x, w)`.
#[derive(Debug)]
struct MatmulBackward;

impl Backward<Flex, 2> for MatmulBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, w) = ops.state;
        binary::<Flex, _, _>(
            ops.parents,
            ops.node,
            grads,
            // dX = dY · Wᵀ: [.., n] · [n, k] → x's shape.
            |grad| {
                let grad = readable(grad);
                tensor(
                    product(&view(&grad), &view(&w).t()),
                    x.layout().shape().clone(),
                )
            },
            // dW = Xᵀ · dY: [k, rows] · [rows, n] → [k, n] (the sum over every leading index).
            |grad| {
                let grad = readable(grad);
                let w_view = view(&w);
                if w_view.row_stride == 1 && w_view.col_stride != 1 {
                    // `w` is a transposed view (GPT-2's tied LM head reads `wteᵀ`): dWᵀ = dYᵀ · X
                    // in the stored table's order, handed back as its transposed view, so the
                    // table's gradient needs no `[k, n]` → `[n, k]` copy.
                    let [k, n] = [w_view.rows, w_view.cols];
                    tensor(product(&view(&grad).t(), &view(&x)), Shape::new([n, k])).transpose(0, 1)
                } else {
                    tensor(
                        product(&view(&x).t(), &view(&grad)),
                        w.layout().shape().clone(),
                    )
                }
            },
        );
    }
}

/// `x · w` of f32 flex tensors under autodiff: `[.., k]` · `[k, n]` → `[.., n]`; the backward's
/// two products are gemm calls on the saved operands, read through their strides.
pub fn matmul_autodiff(x: AutodiffFlexTensor, w: AutodiffFlexTensor) -> AutodiffFlexTensor {
    let (x, x_node) = x.into_parts();
    let (w, w_node) = w.into_parts();
    let (x, w) = (readable(x), readable(w));
    let output = matmul(x.clone(), w.clone());
    match MatmulBackward
        .prepare::<NoCheckpointing>([x_node, w_node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((x, w), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}
