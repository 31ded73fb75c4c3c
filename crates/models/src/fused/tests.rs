//! The fused ops against the tensor chains they replace, on burn-flex: values, gradients, and
//! inputs that must survive (shared buffers, strided views).

use burn::tensor::activation::{gelu as gelu_chain, log_softmax as log_softmax_chain};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{gelu, gelu_new, gelu_new_chain, log_softmax};

thread_local! {
    /// The fused path this thread's last call took (`None`: the tensor chain).
    pub static PATH: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// The path `f(x)` takes.
fn path_of(f: fn(Tensor<3>) -> Tensor<3>, x: Tensor<3>) -> Option<&'static str> {
    PATH.set(None);
    let _ = f(x);
    PATH.get()
}

#[test]
fn flex_f32_tensors_take_the_fused_path_and_others_the_chain() {
    let plain = sample(&Device::flex(), 1.0);
    let tracked = sample(&Device::flex().autodiff(), 1.0).require_grad();
    for f in [gelu_new as fn(Tensor<3>) -> Tensor<3>, gelu, log_softmax] {
        assert_eq!(path_of(f, plain.clone()), Some("plain"));
        assert_eq!(path_of(f, tracked.clone()), Some("autodiff"));
        assert_eq!(
            path_of(f, plain.clone().cast(burn::tensor::DType::F64)),
            None
        );
    }
}

fn host(t: Tensor<3>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= tol * (1.0 + q.abs()),
            "{what}[{i}]: {p} vs {q}"
        );
    }
}

/// A tensor drawn from its own seeded generator. The device's generator is one per process,
/// shared by the tests that run at the same time, so a draw from it may interleave with another
/// test's and differ between two calls.
pub fn seeded<const D: usize>(
    shape: [usize; D],
    distribution: Distribution,
    seed: u64,
    device: &Device,
) -> Tensor<D> {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::from_data(
        TensorData::random::<f32, _, _>(shape, distribution, &mut rng),
        device,
    )
}

fn sample(device: &Device, scale: f64) -> Tensor<3> {
    seeded([3, 5, 37], Distribution::Normal(0.0, scale), 7, device)
}

#[test]
fn gelu_new_forward_matches_the_chain() {
    let device = Device::flex();
    let x = sample(&device, 3.0);
    assert_close(
        &host(gelu_new(x.clone())),
        &host(gelu_new_chain(x)),
        1e-6,
        "gelu_new",
    );
}

#[test]
fn gelu_forward_matches_burns() {
    let device = Device::flex();
    let x = sample(&device, 3.0);
    assert_close(&host(gelu(x.clone())), &host(gelu_chain(x)), 1e-6, "gelu");
}

#[test]
fn gelu_backward_matches_burns() {
    let (fused, chain) = gradients(gelu, gelu_chain);
    assert_close(&fused, &chain, 1e-6, "d gelu");
}

#[test]
fn fused_ops_leave_a_shared_input_untouched() {
    let device = Device::flex();
    let x = sample(&device, 3.0);
    let before = host(x.clone());
    let _ = gelu_new(x.clone());
    let _ = gelu(x.clone());
    let _ = log_softmax(x.clone());
    assert_eq!(host(x), before);
}

#[test]
fn fused_ops_read_strided_views_in_logical_order() {
    let device = Device::flex();
    let x = sample(&device, 3.0).swap_dims(1, 2); // [3, 37, 5], not contiguous
    assert_close(
        &host(gelu_new(x.clone())),
        &host(gelu_new_chain(x.clone())),
        1e-6,
        "gelu_new",
    );
    assert_close(
        &host(log_softmax(x.clone())),
        &host(log_softmax_chain(x, 2)),
        1e-6,
        "log_softmax",
    );
}

#[test]
fn log_softmax_forward_matches_the_chain() {
    let device = Device::flex();
    let x = sample(&device, 8.0);
    assert_close(
        &host(log_softmax(x.clone())),
        &host(log_softmax_chain(x, 2)),
        1e-6,
        "log_softmax",
    );
}

/// Gradients of `Σ w ⊙ f(x)` through `fused` and through `chain`.
fn gradients(
    fused: fn(Tensor<3>) -> Tensor<3>,
    chain: fn(Tensor<3>) -> Tensor<3>,
) -> (Vec<f32>, Vec<f32>) {
    let device = Device::flex().autodiff();
    let w = sample(&device, 1.0).add_scalar(0.5);
    let grad = |f: fn(Tensor<3>) -> Tensor<3>| {
        let x = sample(&device, 3.0).require_grad();
        let grads = (f(x.clone()) * w.clone()).sum().backward();
        host(x.grad(&grads).expect("x takes part in the loss"))
    };
    (grad(fused), grad(chain))
}

#[test]
fn gelu_new_backward_matches_the_chain() {
    let (fused, chain) = gradients(gelu_new, gelu_new_chain);
    assert_close(&fused, &chain, 2e-6, "d gelu_new");
}

#[test]
fn log_softmax_backward_matches_the_chain() {
    let (fused, chain) = gradients(log_softmax, |x| log_softmax_chain(x, 2));
    assert_close(&fused, &chain, 2e-6, "d log_softmax");
}

#[test]
fn autodiff_forward_equals_the_plain_forward() {
    let x = sample(&Device::flex(), 3.0);
    let y = sample(&Device::flex().autodiff(), 3.0).require_grad();
    assert_eq!(host(gelu_new(y.clone()).inner()), host(gelu_new(x.clone())));
    assert_eq!(host(gelu(y.clone()).inner()), host(gelu(x.clone())));
    assert_eq!(host(log_softmax(y).inner()), host(log_softmax(x)));
}
