//! The model checks: fixture logits against transformers, and KV-cached generation.

use anyhow::{Context, bail};
use burn::tensor::Device;
use dataset::{HubOptions, left_pad};
use models::gpt2::position_ids;
use models::weights::ids_tensor;
use models::{Generation, GenerationConfig, Gpt2Input, RewardModel, generate};
use ppo::forward::{SequenceBatch, WindowOptions, forward_window};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{Case, Fixtures, gap, host, ints, max_gap, rows};

impl Fixtures {
    /// Largest error over the single texts and the left-padded batch: log-sum-exp, the sampled
    /// logits and the values at every real position, and argmax agreement.
    pub(super) fn gpt2_logits(&self, device: &Device) -> anyhow::Result<f64> {
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
    pub(super) fn roberta_logits(&self, device: &Device) -> anyhow::Result<f64> {
        let model = RewardModel::load(&self.roberta, "main", &HubOptions::from_env(), device)?;
        let roberta = &self.expected["roberta"];
        let mut err = 0.0f64;
        for case in roberta["single"].as_array().context("roberta.single")? {
            let logits = model.logits(&[ints(&case["input_ids"])])?;
            err = err.max(max_gap(&logits[0], &case["logits"]));
        }
        // The fixture's padded rows carry transformers' pad id (1); `logits` pads them again.
        let padded = &roberta["padded"];
        let unpadded: Vec<Vec<u32>> = rows(padded, "input_ids")
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .filter(|&id| Some(id) != model.info.pad_token_id)
                    .collect()
            })
            .collect();
        let logits = model.logits(&unpadded)?;
        for (row, want) in logits
            .iter()
            .zip(padded["logits"].as_array().context("logits")?)
        {
            err = err.max(max_gap(row, want));
        }
        Ok(err)
    }

    /// 0 when the KV-cached greedy decoding gave transformers' tokens.
    pub(super) fn greedy_tokens(&self, greedy: &Generation) -> anyhow::Result<f64> {
        let responses = &greedy.responses;
        let want = rows(&self.expected["gpt2"]["greedy"], "tokens");
        if *responses != want {
            bail!("tokens {responses:?}, transformers {want:?}");
        }
        Ok(0.0)
    }

    /// Largest gap between the cached generation's log-probs and the uncached forward's.
    pub(super) fn cached_logprobs(
        &self,
        greedy: &Generation,
        device: &Device,
    ) -> anyhow::Result<f64> {
        let policy = self.policy(device)?;
        let eos = self.gpt2_config.eos_token_id;
        let batch = SequenceBatch::new(&self.prompts(), &greedy.responses, eos);
        let uncached = host(forward_window(&policy, &batch, WindowOptions::PLAIN, device).logprobs);
        let mut err = 0.0f64;
        for (row, logprobs) in greedy.logprobs.iter().enumerate() {
            for (j, &lp) in logprobs.iter().enumerate() {
                err = err.max(f64::from((lp - uncached[row * batch.r + j]).abs()));
            }
        }
        Ok(err)
    }

    /// KV-cached greedy decoding of the left-padded prompts, as transformers' fixture did.
    pub(super) fn greedy(&self, device: &Device) -> anyhow::Result<Generation> {
        let policy = self.policy(device)?;
        let prompts = self.prompts();
        let refs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
        let eos = self.gpt2_config.eos_token_id;
        let max_new = self.expected["gpt2"]["greedy"]["max_new_tokens"]
            .as_u64()
            .unwrap_or(8);
        let out = generate(
            &policy.transformer,
            self.gpt2_config.n_positions,
            &left_pad(&refs, eos),
            &GenerationConfig::greedy(max_new as usize, eos),
            None,
            &mut [StdRng::seed_from_u64(0)],
            device,
        )?;
        Ok(out)
    }
}
