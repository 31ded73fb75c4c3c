//! Data parallelism: the processes ("ranks") one PPO run spans, and what they exchange.
//!
//! N ranks at global batch B give what one process gives at batch B: rank `k` samples and
//! scores rows `k·B/N .. (k+1)·B/N` of every global batch, the rollouts are gathered so every
//! rank holds the whole batch (so every batch statistic is global), each minibatch is split
//! across the ranks, and the gradients are summed before every optimizer step (each rank's
//! loss is already divided by the whole minibatch's token count). [`SingleProcess`] is the
//! one-rank case, where nothing is exchanged; the `rlhf` binary implements the trait over MPI.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};

/// The collective operations PPO needs. Every rank calls them in the same order.
pub trait Collective {
    /// This process's index, `0..size`.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Element-wise sum over every rank, in place.
    fn sum_f64(&self, values: &mut [f64]);
    /// Element-wise sum over every rank, in place (gradients).
    fn sum_f32(&self, values: &mut [f32]);
    /// Every rank's `local` bytes, in rank order.
    fn gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>>;
}

/// One process: nothing to exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f64(&self, _values: &mut [f64]) {}
    fn sum_f32(&self, _values: &mut [f32]) {}
    fn gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
        vec![local.to_vec()]
    }
}

/// Rank `rank`'s share of `rows` when `size` ranks split them evenly (the caller checked that
/// `size` divides `rows.len()`).
pub fn shard<T>(rows: &[T], rank: usize, size: usize) -> &[T] {
    let per = rows.len() / size.max(1);
    &rows[rank * per..(rank + 1) * per]
}

/// Sums every gradient of `model` over the ranks (a no-op on one rank). Gradients travel
/// through host memory, so this works on every backend.
pub fn sum_gradients<M: Module>(
    model: &M,
    grads: &mut GradientsParams,
    collective: &dyn Collective,
) {
    struct Sum<'a> {
        grads: &'a mut GradientsParams,
        collective: &'a dyn Collective,
    }
    impl ModuleVisitor for Sum<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            // Every rank has a gradient for every parameter (the same graph), or none.
            if let Some(g) = self.grads.remove::<D>(param.id) {
                let (shape, device) = (g.shape(), g.device());
                let mut host: Vec<f32> = g.into_data().iter::<f32>().collect();
                self.collective.sum_f32(&mut host);
                let summed: Tensor<D> = Tensor::from_data(TensorData::new(host, shape), &device);
                self.grads.register(param.id, summed);
            }
        }
    }
    if collective.size() > 1 {
        model.visit(&mut Sum { grads, collective });
    }
}

/// Gradients equal to `model`'s parameters (a gradient of every parameter, for timing
/// [`sum_gradients`]).
pub fn parameters_as_gradients<M: Module>(model: &M) -> GradientsParams {
    struct Copy(GradientsParams);
    impl ModuleVisitor for Copy {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.register(param.id, param.val());
        }
    }
    let mut visitor = Copy(GradientsParams::new());
    model.visit(&mut visitor);
    visitor.0
}

/// `Σ w` and `Σ |w|` over every parameter of `model`, for checking that the ranks hold the same
/// weights.
pub fn weight_checksum<M: Module>(model: &M) -> [f64; 2] {
    struct Checksum([f64; 2]);
    impl ModuleVisitor for Checksum {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data();
            for v in values.iter::<f32>() {
                self.0[0] += f64::from(v);
                self.0[1] += f64::from(v.abs());
            }
        }
    }
    let mut visitor = Checksum([0.0; 2]);
    model.visit(&mut visitor);
    visitor.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_rows_in_rank_order() {
        let rows: Vec<usize> = (0..8).collect();
        assert_eq!(shard(&rows, 0, 2), &[0, 1, 2, 3]);
        assert_eq!(shard(&rows, 1, 2), &[4, 5, 6, 7]);
        assert_eq!(shard(&rows, 3, 4), &[6, 7]);
        assert_eq!(shard(&rows, 0, 1), &rows[..]);
    }
}
