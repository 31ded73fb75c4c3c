//! TensorFlow-1-style Adam, as OpenAI's lm-human-preferences trained its policy.
//!
//! PyTorch (and burn's `Adam`) divide by `sqrt(v̂) + ε` with bias-corrected `v̂`; TF1 folds the
//! bias correction into the step size and divides by `sqrt(v) + ε`:
//! `lr_t = lr·sqrt(1 − β2^t)/(1 − β1^t)`, `θ ← θ − lr_t·m/(sqrt(v) + ε)`.
//! Early in training `sqrt(v)` is small, so TF's ε damps the first updates much more
//! ("The N Implementation Details of RLHF with PPO": PyTorch's ε gives ~6× larger early steps).

use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

/// TF1 Adam (`ppo.tf_style_adam = true`); no weight decay, no AMSGrad.
#[derive(Debug, Clone, Copy)]
pub struct TfAdam {
    /// β1.
    pub beta_1: f32,
    /// β2.
    pub beta_2: f32,
    /// ε, added to `sqrt(v)` (not to the bias-corrected `sqrt(v̂)`).
    pub epsilon: f32,
}

impl Optimizer for TfAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let state = match state.map(|s| s.momentum) {
            Some(mut s) => {
                s.moment_1 = s
                    .moment_1
                    .mul_scalar(b1)
                    .add(grad.clone().mul_scalar(1.0 - b1));
                s.moment_2 = s
                    .moment_2
                    .mul_scalar(b2)
                    .add(grad.square().mul_scalar(1.0 - b2));
                s.time += 1;
                s
            }
            None => AdaptiveMomentumState::new(
                1,
                grad.clone().mul_scalar(1.0 - b1),
                grad.square().mul_scalar(1.0 - b2),
            ),
        };
        let t = state.time as i32;
        let lr_t = lr * f64::from((1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t)));
        let update = state
            .moment_1
            .clone()
            .div(state.moment_2.clone().sqrt().add_scalar(self.epsilon))
            .mul_scalar(lr_t);
        (tensor - update, Some(AdamState::new(state)))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::Optimizer;
    use burn::tensor::{Device, Tensor};

    use super::TfAdam;

    #[test]
    fn matches_the_tf1_formula_for_two_steps() {
        let device = Device::flex();
        let adam = TfAdam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
        };
        let theta: Tensor<1> = Tensor::from_floats([1.0, -2.0], &device);
        let grads = [[0.5f32, -1e-4], [0.25, 3e-4]];
        let (mut m, mut v, mut want) = ([0.0f64; 2], [0.0f64; 2], [1.0f64, -2.0]);
        let (mut param, mut state) = (theta, None);
        for (step, g) in grads.iter().enumerate() {
            let grad: Tensor<1> = Tensor::from_floats(*g, &device);
            (param, state) = adam.step(0.1, param, grad, state);
            let t = step as i32 + 1;
            let lr_t = 0.1 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t));
            for i in 0..2 {
                let gi = f64::from(g[i]);
                m[i] = 0.9 * m[i] + 0.1 * gi;
                v[i] = 0.999 * v[i] + 0.001 * gi * gi;
                want[i] -= lr_t * m[i] / (v[i].sqrt() + 1e-5);
            }
        }
        let got: Vec<f32> = param.into_data().iter::<f32>().collect();
        for i in 0..2 {
            assert!(
                (f64::from(got[i]) - want[i]).abs() < 1e-5,
                "{got:?} vs {want:?}"
            );
        }
    }
}
