//! [`matmul`] against burn's `linear` on burn-flex: values, both gradients, transposed and
//! strided operands, and which path a call takes.

use burn::tensor::{DType, Device, Distribution, Tensor};

use super::matmul;
use super::tests::{PATH, seeded};

/// `[4, 50, 200]` · `[200, 300]`: 12 M multiply-adds, above the threshold for splitting over
/// the cores.
fn operands(device: &Device) -> (Tensor<3>, Tensor<2>) {
    let x = seeded([4, 50, 200], Distribution::Normal(0.0, 1.0), 11, device);
    let w = seeded([200, 300], Distribution::Normal(0.0, 0.1), 12, device);
    (x, w)
}

fn linear(x: Tensor<3>, w: Tensor<2>) -> Tensor<3> {
    burn::tensor::module::linear(x, w, None)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= 1e-5 * (1.0 + q.abs()),
            "{what}[{i}]: {p} vs {q}"
        );
    }
}

#[test]
fn flex_f32_operands_take_gemm_and_others_burns_linear() {
    let (x, w) = operands(&Device::flex());
    PATH.set(None);
    let _ = matmul(x.clone(), w.clone());
    assert_eq!(PATH.get(), Some("plain"));

    let (xa, wa) = operands(&Device::flex().autodiff());
    PATH.set(None);
    let _ = matmul(xa.require_grad(), wa);
    assert_eq!(PATH.get(), Some("autodiff"));

    PATH.set(None);
    let _ = matmul(x.cast(DType::F64), w.cast(DType::F64));
    assert_eq!(PATH.get(), None);
}

#[test]
fn forward_matches_burns_linear() {
    let (x, w) = operands(&Device::flex());
    assert_close(
        &host(matmul(x.clone(), w.clone())),
        &host(linear(x.clone(), w.clone())),
        "x·w",
    );
    // Below the parallel threshold, and two-dimensional.
    let x2 = x.slice([0..1, 0..3]).reshape([3, 200]);
    assert_close(
        &host(matmul(x2.clone(), w.clone())),
        &host(burn::tensor::module::linear(x2, w, None)),
        "small x·w",
    );
}

#[test]
fn transposed_and_strided_operands_are_read_in_logical_order() {
    let device = Device::flex();
    let (x, w) = operands(&device);
    // A transposed weight (GPT-2's tied LM head reads `wteᵀ` this way).
    let wt = w.clone().transpose().into_data();
    let w_view = Tensor::<2>::from_data(wt, &device).transpose();
    assert_close(
        &host(matmul(x.clone(), w_view)),
        &host(linear(x.clone(), w.clone())),
        "x·wᵀᵀ",
    );
    // A non-contiguous rank-3 input.
    let x_view =
        Tensor::<3>::from_data(x.clone().swap_dims(1, 2).into_data(), &device).swap_dims(1, 2);
    assert_close(
        &host(matmul(x_view, w.clone())),
        &host(linear(x, w)),
        "strided x",
    );
}

/// Gradients of `Σ r ⊙ f(x, w)` for x and the stored weight (each `None` when not tracked);
/// with `w_transposed` the weight is stored `[n, k]` and read through its transposed view.
fn gradients(
    f: fn(Tensor<3>, Tensor<2>) -> Tensor<3>,
    track_x: bool,
    track_w: bool,
    w_transposed: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let device = Device::flex().autodiff();
    let (x, w) = operands(&device);
    let x = if track_x { x.require_grad() } else { x };
    let stored = match w_transposed {
        true => Tensor::<2>::from_data(w.transpose().into_data(), &device),
        false => w,
    };
    let stored = if track_w {
        stored.require_grad()
    } else {
        stored
    };
    let w = match w_transposed {
        true => stored.clone().transpose(),
        false => stored.clone(),
    };
    let r = seeded([4, 50, 300], Distribution::Normal(0.0, 1.0), 13, &device);
    let grads = (f(x.clone(), w) * r).sum().backward();
    (x.grad(&grads).map(host), stored.grad(&grads).map(host))
}

#[test]
fn gradients_match_burns_linear() {
    for w_transposed in [false, true] {
        for (track_x, track_w) in [(true, true), (true, false), (false, true)] {
            let (dx, dw) = gradients(matmul, track_x, track_w, w_transposed);
            let (dx_ref, dw_ref) = gradients(linear, track_x, track_w, w_transposed);
            assert_eq!(dx.is_some(), track_x);
            assert_eq!(dw.is_some(), track_w);
            if let (Some(a), Some(b)) = (dx, dx_ref) {
                assert_close(&a, &b, "dx");
            }
            if let (Some(a), Some(b)) = (dw, dw_ref) {
                assert_close(&a, &b, "dw");
            }
        }
    }
}

/// Decoding-step shapes (≤ 16 rows) against burn's `linear`: every row count, a row-major `W`
/// and a transposed view of one (the tied LM head's `wteᵀ`), depths and widths off the kernels'
/// blocks, strided views, and a `W` deep enough to be split over the cores.
#[test]
fn few_rows_match_burns_linear() {
    assert!(!super::decoding(), "outside a sampling loop, gemm");
    super::while_decoding(few_rows_match_burns_linear_decoding);
    assert!(!super::decoding(), "the flag is restored");
}

/// [`few_rows_match_burns_linear`]'s checks.
fn few_rows_match_burns_linear_decoding() {
    let device = Device::flex();
    let w = seeded([203, 600], Distribution::Normal(0.0, 0.1), 21, &device);
    let table = seeded([601, 203], Distribution::Normal(0.0, 0.1), 24, &device);
    for m in 1..=17 {
        let x = seeded([m, 203], Distribution::Normal(0.0, 1.0), 22, &device);
        for (name, w) in [
            ("row-major", w.clone()),
            ("transposed", table.clone().transpose()),
        ] {
            assert_close(
                &host(matmul(x.clone(), w.clone())),
                &host(burn::tensor::module::linear(x.clone(), w, None)),
                &format!("{m} rows, {name} W"),
            );
        }
    }
    let x = seeded([16, 300], Distribution::Normal(0.0, 1.0), 23, &device);
    let (x_view, w_view) = (x.slice([0..16, 50..253]), w.clone().slice([0..203, 7..507]));
    let t_view = table.transpose().slice([0..203, 3..598]);
    for (name, w) in [("strided", w_view), ("strided transposed", t_view)] {
        assert_close(
            &host(matmul(x_view.clone(), w.clone())),
            &host(burn::tensor::module::linear(x_view.clone(), w, None)),
            name,
        );
    }
    let deep = seeded([1000, 70], Distribution::Normal(0.0, 0.1), 25, &device);
    let x = seeded([5, 1000], Distribution::Normal(0.0, 1.0), 26, &device);
    assert_close(
        &host(matmul(x.clone(), deep.clone())),
        &host(burn::tensor::module::linear(x, deep, None)),
        "deep W",
    );
    // The kernel takes these shapes wherever it runs.
    let values = vec![0.5; 16 * 203];
    let operand = |row_stride, col_stride| super::decode::Strided {
        data: &values,
        row_stride,
        col_stride,
    };
    let taken = super::decode::product(operand(203, 1), [16, 203, 1], operand(1, 1)).is_some();
    assert_eq!(taken, super::decode::available());
}
