//! `rlhf check-backend`: the numeric conformance suite of one backend (`--device`), run on the
//! tiny fixtures of `tests/fixtures/models`:
//! - GPT-2 (+ value head) and RoBERTa logits against transformers' (`expected.json`);
//! - KV-cached greedy generation: transformers' tokens, and log-probs equal to the uncached
//!   forward over `[query | response]` (PPO's alignment);
//! - one PPO update on a fixed rollout against the same update on flex: losses, statistics and
//!   the updated weights.
//!
//! `cargo xtask backends` runs it per backend, together with every command once.

use std::path::Path;

use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use config::{DeviceSpec, KlPenalty};
use dataset::{HubOptions, left_pad};
use models::export::policy_tensors;
use models::gpt2::position_ids;
use models::weights::ids_tensor;
use models::{
    Generation, GenerationConfig, Gpt2Input, Gpt2WithValueHead, ModelFiles, RewardModel,
    ValueHeadInit, generate,
};
use ppo::forward::{SequenceBatch, WindowOptions, forward_window};
use ppo::trainer::{EpochSettings, OptimizerKind, StepData, build_optimizer, run_epochs};
use ppo::{LossConfig, compute_advantages, compute_rewards, kl_penalty, last_indices};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use crate::args::{CheckBackendArgs, ConfigArgs};
use crate::device;

/// Learning rate of the PPO update check.
const PPO_LR: f64 = 1e-3;

/// Runs every check on the configured device; fails when one is off.
pub fn run(layers: &ConfigArgs, args: &CheckBackendArgs) -> anyhow::Result<()> {
    let config = layers.load(Vec::new())?;
    let target = device::select(config.device)?;
    let flex = device::select(DeviceSpec::Flex)?;
    let fixtures = Fixtures::open(&args.fixtures)?;
    let kind = OptimizerKind::for_device(config.device.is_cpu(), false);
    println!("backend check on {} (optimizer {kind:?})", config.device);
    let tolerance = args.tolerance;
    let (stats, weights) = match fixtures.ppo_update(&target, &flex, kind) {
        Ok((stats, weights)) => (Ok(stats), Ok(weights)),
        Err(e) => (Err(anyhow::anyhow!("{e:#}")), Err(e)),
    };
    // Adam moves a weight with a near-zero gradient by up to a whole step whatever that
    // gradient's size, so float noise there shows at learning-rate scale: half a step is the bar.
    let checks: [(&str, anyhow::Result<f64>, f64); 6] = [
        (
            "gpt2 logits and values = transformers",
            fixtures.gpt2_logits(&target),
            tolerance,
        ),
        (
            "roberta logits = transformers",
            fixtures.roberta_logits(&target),
            tolerance,
        ),
        (
            "greedy tokens = transformers",
            fixtures.greedy_tokens(&target),
            tolerance,
        ),
        (
            "kv-cached log-probs = uncached forward",
            fixtures.cached_logprobs(&target),
            tolerance,
        ),
        ("ppo update: losses and stats = flex", stats, tolerance),
        ("ppo update: weights = flex (lr/2)", weights, PPO_LR / 2.0),
    ];
    let total = checks.len();
    let mut failed = Vec::new();
    for (name, result, tolerance) in checks {
        match result {
            Ok(err) if err <= tolerance => println!("ok    {name:<42} max |diff| {err:.2e}"),
            Ok(err) => {
                println!("FAIL  {name:<42} max |diff| {err:.2e} > {tolerance:.0e}");
                failed.push(name);
            }
            Err(e) => {
                println!("FAIL  {name:<42} {e:#}");
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {total} checks failed on {}: {}",
            failed.len(),
            config.device,
            failed.join("; ")
        );
    }
    println!(
        "all {total} checks passed on {} (tolerance {tolerance:.0e}; weights lr/2)",
        config.device
    );
    Ok(())
}

/// Rows of ids, their attention masks, and transformers' summary of each row.
type Case<'a> = (Vec<Vec<u32>>, Vec<Vec<u32>>, Vec<&'a Value>);

/// The tiny fixtures and transformers' outputs for them.
struct Fixtures {
    gpt2: ModelFiles,
    roberta: String,
    expected: Value,
}

impl Fixtures {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        let hub = HubOptions::from_env();
        let path = dir.join("expected.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`; pass --fixtures DIR", path.display()))?;
        Ok(Fixtures {
            gpt2: ModelFiles::resolve(&dir.join("tiny-gpt2").to_string_lossy(), "main", &hub)?,
            roberta: dir.join("tiny-roberta").to_string_lossy().into_owned(),
            expected: serde_json::from_str(&text)
                .with_context(|| format!("`{}` is not JSON", path.display()))?,
        })
    }

    fn policy(&self, device: &Device) -> anyhow::Result<Gpt2WithValueHead> {
        Ok(Gpt2WithValueHead::load(&self.gpt2, ValueHeadInit::Zero, device)?.0)
    }

    /// The ids of the single texts (the generation prompts).
    fn prompts(&self) -> Vec<Vec<u32>> {
        let single = self.expected["gpt2"]["single"].as_array();
        single.map_or_else(Vec::new, |cases| {
            cases.iter().map(|c| ints(&c["input_ids"])).collect()
        })
    }

    /// Largest error over the single texts and the left-padded batch: log-sum-exp, the sampled
    /// logits and the values at every real position, and argmax agreement.
    fn gpt2_logits(&self, device: &Device) -> anyhow::Result<f64> {
        let policy = self.policy(device)?;
        let gpt2 = &self.expected["gpt2"];
        let sample_ids = ints(&gpt2["sample_ids"]);
        let mut err = 0.0f64;
        // (id rows, mask rows, transformers' summary per row)
        let mut cases: Vec<Case<'_>> = Vec::new();
        for case in gpt2["single"].as_array().context("gpt2.single")? {
            let ids = ints(&case["input_ids"]);
            cases.push((vec![ids.clone()], vec![vec![1; ids.len()]], vec![case]));
        }
        let padded = &gpt2["padded"];
        let summaries = padded["rows"].as_array().context("gpt2.padded.rows")?;
        cases.push((
            rows(padded, "input_ids"),
            rows(padded, "attention_mask"),
            summaries.iter().collect(),
        ));
        for (ids, masks, summaries) in cases {
            let (b, t) = (ids.len(), ids[0].len());
            let flat_mask = masks.concat();
            let out = policy.forward(
                Gpt2Input {
                    input_ids: ids_tensor(&ids.concat(), b, t, device),
                    position_ids: position_ids(&flat_mask, b, t, &vec![0; b], device),
                    attention_mask: (b > 1).then(|| ids_tensor(&flat_mask, b, t, device)),
                },
                None,
            );
            let logits = host(out.logits);
            let values = host(out.values);
            let v = logits.len() / (b * t);
            for (row, summary) in summaries.iter().enumerate() {
                for pos in (0..t).filter(|&p| masks[row][p] == 1) {
                    let at = row * t + pos;
                    let ours = &logits[at * v..(at + 1) * v];
                    if models::sampling::argmax(ours) as u64
                        != summary["argmax"][pos].as_u64().unwrap_or(u64::MAX)
                    {
                        bail!("argmax differs at row {row}, position {pos}");
                    }
                    let max = ours.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let lse = max + ours.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
                    err = err.max(gap(lse, &summary["logsumexp"][pos]));
                    err = err.max(gap(values[at], &summary["values"][pos]));
                    for (k, &id) in sample_ids.iter().enumerate() {
                        err = err.max(gap(ours[id as usize], &summary["sample_logits"][pos][k]));
                    }
                }
            }
        }
        Ok(err)
    }

    /// Largest logit error of the classifier over the single texts and the padded batch.
    fn roberta_logits(&self, device: &Device) -> anyhow::Result<f64> {
        let model = RewardModel::load(&self.roberta, "main", &HubOptions::from_env(), device)?;
        let roberta = &self.expected["roberta"];
        let mut err = 0.0f64;
        for case in roberta["single"].as_array().context("roberta.single")? {
            let logits = model.logits(&[ints(&case["input_ids"])]);
            err = err.max(max_gap(&logits[0], &case["logits"]));
        }
        // The fixture's padded rows carry transformers' pad id (1); `logits` pads them again.
        let padded = &roberta["padded"];
        let unpadded: Vec<Vec<u32>> = rows(padded, "input_ids")
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .filter(|&id| id != model.config.pad_token_id)
                    .collect()
            })
            .collect();
        let logits = model.logits(&unpadded);
        for (row, want) in logits
            .iter()
            .zip(padded["logits"].as_array().context("logits")?)
        {
            err = err.max(max_gap(row, want));
        }
        Ok(err)
    }

    /// 0 when KV-cached greedy decoding of the left-padded prompts gives transformers' tokens.
    fn greedy_tokens(&self, device: &Device) -> anyhow::Result<f64> {
        let responses = self.greedy(device)?.responses;
        let want = rows(&self.expected["gpt2"]["greedy"], "tokens");
        if responses != want {
            bail!("tokens {responses:?}, transformers {want:?}");
        }
        Ok(0.0)
    }

    /// Largest gap between the cached generation's log-probs and the uncached forward's.
    fn cached_logprobs(&self, device: &Device) -> anyhow::Result<f64> {
        let Generation {
            responses,
            logprobs: cached,
        } = self.greedy(device)?;
        let policy = self.policy(device)?;
        let eos = self.expected_eos();
        let batch = SequenceBatch::new(&self.prompts(), &responses, eos);
        let uncached = host(forward_window(&policy, &batch, WindowOptions::PLAIN, device).logprobs);
        let mut err = 0.0f64;
        for (row, logprobs) in cached.iter().enumerate() {
            for (j, &lp) in logprobs.iter().enumerate() {
                err = err.max(f64::from((lp - uncached[row * batch.r + j]).abs()));
            }
        }
        Ok(err)
    }

    fn expected_eos(&self) -> u32 {
        50256
    }

    fn greedy(&self, device: &Device) -> anyhow::Result<Generation> {
        let policy = self.policy(device)?;
        let prompts = self.prompts();
        let refs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
        let eos = self.expected_eos();
        let max_new = self.expected["gpt2"]["greedy"]["max_new_tokens"]
            .as_u64()
            .unwrap_or(8);
        let out = generate(
            &policy.transformer,
            1024,
            &left_pad(&refs, eos),
            &GenerationConfig::greedy(max_new as usize, eos),
            None,
            &mut StdRng::seed_from_u64(0),
            device,
        )?;
        Ok(out)
    }

    /// Largest gaps between the target's and flex's PPO update on the same fixed rollout (the
    /// fixture prompts, transformers' greedy responses, fixed scores): every minibatch's losses
    /// and statistics, and every updated weight, each relative to `1 + |flex's value|`.
    fn ppo_update(
        &self,
        target: &Device,
        flex: &Device,
        kind: OptimizerKind,
    ) -> anyhow::Result<(f64, f64)> {
        let flex_kind = OptimizerKind::for_device(true, false);
        let (stats_a, weights_a) = self.update(target, kind)?;
        let (stats_b, weights_b) = self.update(flex, flex_kind)?;
        if stats_a.len() != stats_b.len() || weights_a.len() != weights_b.len() {
            bail!("the update has another shape than on flex");
        }
        // Relative to 1 + |flex's value|: the gradient norm and losses are not all near 1.
        let gap = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
                .fold(0.0f64, f64::max)
        };
        Ok((gap(&stats_a, &stats_b), gap(&weights_a, &weights_b)))
    }

    fn update(&self, device: &Device, kind: OptimizerKind) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
        let autodiff = device.clone().autodiff();
        let plain = device.clone();
        let policy = self.policy(&autodiff)?.with_stable_param_ids();
        let reference = policy.valid();
        let responses = rows(&self.expected["gpt2"]["greedy"], "tokens");
        let batch = SequenceBatch::new(&self.prompts(), &responses, self.expected_eos());
        let ours = forward_window(
            &policy.clone().no_grad(),
            &batch,
            WindowOptions::PLAIN,
            &autodiff,
        );
        let theirs = forward_window(&reference, &batch, WindowOptions::PLAIN, &plain);
        let logprobs = ours.logprobs.detach().without_autodiff();
        let kl = kl_penalty(logprobs.clone(), theirs.logprobs, KlPenalty::Kl);
        let last = last_indices(&batch.response_mask, batch.r).context("empty response")?;
        let scores = [1.0f32, -0.5, 0.25];
        let rewards = compute_rewards(&scores[..batch.b], kl, 0.2, &last);
        let values = ours.values.detach().without_autodiff();
        let mask = batch.mask_tensor(&plain);
        let adv = compute_advantages(values, rewards.rewards, mask, 1.0, 0.95, false);
        let data = StepData {
            batch,
            old_logprobs: logprobs,
            old_values: adv.values,
            advantages: adv.advantages,
            returns: adv.returns,
        };
        let settings = EpochSettings {
            epochs: 2,
            mini_batch_size: data.batch.b,
            grad_accum: 1,
            loss: LossConfig {
                cliprange: 0.2,
                cliprange_value: 0.2,
                vf_coef: 0.1,
                ratio_threshold: 10.0,
            },
            learning_rate: PPO_LR,
            max_grad_norm: Some(1.0),
            early_stopping: None,
            temperature: 1.0,
        };
        let mut optimizer = build_optimizer(kind, 1e-8);
        let mut rng = StdRng::seed_from_u64(0);
        let (policy, out) = run_epochs(
            policy,
            &mut optimizer,
            &data,
            &settings,
            None,
            &mut rng,
            &autodiff,
        );
        let stats = out
            .minibatches
            .iter()
            .flat_map(|s| {
                [
                    s.loss_policy,
                    s.loss_value,
                    s.loss_total,
                    s.approxkl,
                    s.entropy,
                ]
            })
            .chain(out.grad_norms)
            .collect();
        let weights = policy_tensors(&policy.valid(), true)
            .into_iter()
            .flat_map(|(_, data)| data.iter::<f32>().map(f64::from).collect::<Vec<_>>())
            .collect();
        Ok((stats, weights))
    }
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn ints(v: &Value) -> Vec<u32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u32)
                .collect()
        })
        .unwrap_or_default()
}

/// `v[key]` as rows of ids (`v[key]` is an array of arrays).
fn rows(v: &Value, key: &str) -> Vec<Vec<u32>> {
    v[key]
        .as_array()
        .map(|a| a.iter().map(ints).collect())
        .unwrap_or_default()
}

fn gap(ours: f32, want: &Value) -> f64 {
    want.as_f64()
        .map_or(f64::INFINITY, |w| (f64::from(ours) - w).abs())
}

fn max_gap(ours: &[f32], want: &Value) -> f64 {
    let want = want.as_array().map(Vec::as_slice).unwrap_or_default();
    if want.len() != ours.len() {
        return f64::INFINITY;
    }
    ours.iter()
        .zip(want)
        .map(|(&o, w)| gap(o, w))
        .fold(0.0, f64::max)
}
