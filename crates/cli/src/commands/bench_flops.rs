//! What `rlhf bench` compares its times with: the backend's measured f32 GEMM rate, and the
//! matrix FLOPs a PPO step has to do (so that a step's time can be read against its floor,
//! FLOPs / GEMM rate); and the machine facts it reports (GEMM ISA, threads, peak memory).
//!
//! FLOPs count 2 per multiply-add of the matrix products only (projections, MLPs, attention
//! scores and values, the LM head); element-wise work, softmax and layer norms are left out, so
//! the floor is a lower bound.

use burn::tensor::Device;
use models::{Gpt2Config, RobertaConfig};

use super::bench_shapes::{Shape, shape_gflops};

/// Median GFLOP/s of `[n, n] × [n, n]` f32 products on `device`, after one warm-up.
pub fn gemm_gflops(device: &Device, n: usize, repeats: usize) -> f64 {
    let square = Shape {
        name: format!("square {n}"),
        m: n,
        k: n,
        n,
        a_t: false,
        b_t: false,
    };
    shape_gflops(device, &square, repeats)
}

/// Forward FLOPs of a transformer encoder/decoder stack over `tokens` tokens that each attend
/// to `context` positions: per layer the q/k/v/output projections (8·d²), the MLP (4·d·f) and
/// the attention scores and values (4·context·d), 2 FLOPs per multiply-add included.
fn stack_flops(layers: usize, d: usize, ffn: usize, tokens: f64, context: f64) -> f64 {
    let (d, ffn) = (d as f64, ffn as f64);
    layers as f64 * tokens * (8.0 * d * d + 4.0 * d * ffn + 4.0 * context * d)
}

/// Matrix FLOPs of one PPO step of `b` rows: prompts of `prompt_len` tokens (mean), `new`
/// sampled tokens, `reward_len` reward tokens per text (mean), `epochs` PPO epochs.
pub struct StepFlops {
    /// Sampling: the prompt pass and one token at a time with a KV cache, LM head per new token.
    pub generate: f64,
    /// The reward model's forward over every text.
    pub score: f64,
    /// Policy and reference forwards over query + response.
    pub forward: f64,
    /// `epochs` × (forward + backward ≈ 3 forwards) of the policy.
    pub optimize: f64,
}

impl StepFlops {
    /// The count for GPT-2 `gpt2` and RoBERTa `roberta` at these sizes.
    pub fn new(
        gpt2: &Gpt2Config,
        roberta: &RobertaConfig,
        (b, prompt_len, new, reward_len, epochs): (usize, f64, usize, f64, usize),
    ) -> Self {
        let (b, new) = (b as f64, new as f64);
        let (d, layers, ffn) = (gpt2.n_embd, gpt2.n_layer, gpt2.inner_dim());
        let lm_head = 2.0 * d as f64 * gpt2.vocab_size as f64;
        let seq = prompt_len + new;
        // Generation: prompt tokens attend to about half the prompt, new tokens to the prefix.
        let prefill = stack_flops(layers, d, ffn, prompt_len, prompt_len / 2.0);
        let decode = stack_flops(layers, d, ffn, new, prompt_len + new / 2.0) + new * lm_head;
        let full = stack_flops(layers, d, ffn, seq, seq / 2.0) + seq * lm_head;
        let reward = stack_flops(
            roberta.num_hidden_layers,
            roberta.hidden_size,
            roberta.intermediate_size,
            reward_len,
            reward_len,
        );
        StepFlops {
            generate: b * (prefill + decode),
            score: b * reward,
            forward: 2.0 * b * full,
            optimize: epochs as f64 * 3.0 * b * full,
        }
    }

    /// All phases.
    pub fn total(&self) -> f64 {
        self.generate + self.score + self.forward + self.optimize
    }
}

/// Threads of the CPU backends' pool: `RAYON_NUM_THREADS`, else every core.
pub fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The instruction set burn-flex's GEMM dispatches to on this CPU (built with `x86-v4`, it
/// picks AVX-512 when the CPU has `avx512f`, else FMA).
pub fn gemm_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "avx2+fma";
        }
    }
    "generic"
}

/// Peak resident set size of this process (`VmHWM`), in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpt2_forward_costs_about_twice_its_parameters_per_token() {
        let gpt2 = Gpt2Config {
            n_positions: 1024,
            n_embd: 768,
            n_layer: 12,
            n_head: 12,
            n_inner: None,
            ..Gpt2Config::tiny(50257)
        };
        let roberta = RobertaConfig::sentiment(1024, 24, 16, 510);
        let f = StepFlops::new(&gpt2, &roberta, (1, 0.0, 0, 0.0, 0));
        assert_eq!(f.total(), 0.0);
        // One token, no context: 2 × (85M block + 38.6M LM head) parameters ≈ 247 MFLOP.
        let one = StepFlops::new(&gpt2, &roberta, (1, 1.0, 0, 0.0, 1));
        let per_token = one.forward / 2.0;
        assert!((per_token / 1e6 - 247.2).abs() < 1.0, "{per_token}");
    }
}
