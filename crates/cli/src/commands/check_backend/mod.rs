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
use burn::tensor::{Device, Tensor};
use config::DeviceSpec;
use dataset::HubOptions;
use models::{Gpt2Config, Gpt2WithValueHead, ModelFiles, ValueHeadInit};
use ppo::trainer::OptimizerKind;
use serde_json::Value;

use crate::args::{CheckBackendArgs, ConfigArgs};
use crate::device;

mod logits;
mod ppo_update;

/// Learning rate of the PPO update check.
const PPO_LR: f64 = 1e-3;

/// Runs every check on the configured device; fails when one is off.
pub fn run(layers: &ConfigArgs, args: &CheckBackendArgs) -> anyhow::Result<()> {
    let config = layers.load(Vec::new())?;
    let target = device::select(config.device)?;
    let flex = device::select(DeviceSpec::Flex)?;
    let fixtures = Fixtures::open(&args.fixtures)?;
    let kind = OptimizerKind::for_device(config.device.is_cpu(), false);
    println!(
        "backend check on {} (optimizer {kind:?}; flex GEMM kernels on this CPU: {})",
        config.device,
        super::bench_flops::gemm_isa()
    );
    let tolerance = args.tolerance;
    let (stats, weights) = match fixtures.ppo_update(&target, &flex, kind) {
        Ok((stats, weights)) => (Ok(stats), Ok(weights)),
        Err(e) => (Err(anyhow::anyhow!("{e:#}")), Err(e)),
    };
    // One KV-cached greedy decoding serves two checks.
    let (tokens, cached) = match fixtures.greedy(&target) {
        Ok(greedy) => (
            fixtures.greedy_tokens(&greedy),
            fixtures.cached_logprobs(&greedy, &target),
        ),
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
        ("greedy tokens = transformers", tokens, tolerance),
        ("kv-cached log-probs = uncached forward", cached, tolerance),
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
    gpt2_config: Gpt2Config,
    roberta: String,
    expected: Value,
}

impl Fixtures {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        let hub = HubOptions::from_env();
        let path = dir.join("expected.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`; pass --fixtures DIR", path.display()))?;
        let gpt2 = ModelFiles::resolve(&dir.join("tiny-gpt2").to_string_lossy(), "main", &hub)?;
        Ok(Fixtures {
            gpt2_config: Gpt2Config::from_file(&gpt2.config)?,
            gpt2,
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
}

pub(super) fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

pub(super) fn ints(v: &Value) -> Vec<u32> {
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
pub(super) fn rows(v: &Value, key: &str) -> Vec<Vec<u32>> {
    v[key]
        .as_array()
        .map(|a| a.iter().map(ints).collect())
        .unwrap_or_default()
}

pub(super) fn gap(ours: f32, want: &Value) -> f64 {
    want.as_f64()
        .map_or(f64::INFINITY, |w| (f64::from(ours) - w).abs())
}

pub(super) fn max_gap(ours: &[f32], want: &Value) -> f64 {
    let want = want.as_array().map(Vec::as_slice).unwrap_or_default();
    if want.len() != ours.len() {
        return f64::INFINITY;
    }
    ours.iter()
        .zip(want)
        .map(|(&o, w)| gap(o, w))
        .fold(0.0, f64::max)
}
