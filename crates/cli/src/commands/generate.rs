//! `rlhf generate`: continue prompts with a policy, one-shot or interactively from stdin.

use std::io::Write;

use anyhow::bail;
use dataset::left_pad;
use models::sampling::Sampler;
use models::{GenerationConfig, generate};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::load::{LoadedPolicy, load_policy};
use crate::args::{ConfigArgs, GenerateArgs};
use crate::device;
use crate::lines::for_each_line;

/// Loads the policy and answers `--prompt`, or every stdin line when there is none.
pub fn run(layers: &ConfigArgs, args: &GenerateArgs) -> anyhow::Result<()> {
    let config = layers.load(Vec::new())?;
    let device = device::select(config.device)?;
    let g = &config.generation;
    let sampler = Sampler {
        do_sample: !args.greedy,
        temperature: args.temperature.unwrap_or(g.temperature),
        top_k: args.top_k.unwrap_or(g.top_k),
        top_p: args.top_p.unwrap_or(g.top_p),
    };
    let temperature = sampler.temperature;
    if sampler.do_sample && !(temperature.is_finite() && temperature > 0.0) {
        bail!("--temperature must be a finite number > 0 (got {temperature})");
    }
    if !(0.0..=1.0).contains(&sampler.top_p) || sampler.top_p == 0.0 {
        bail!("--top-p must be in (0, 1] (got {})", sampler.top_p);
    }
    if args.num_samples == 0 {
        bail!("--num-samples must be at least 1");
    }
    if args.max_new_tokens == 0 {
        bail!("--max-new-tokens must be at least 1");
    }
    let loaded = load_policy(
        &config,
        args.model.as_deref(),
        args.checkpoint.as_deref(),
        &device,
    )?;
    let eos = loaded.config.eos_token_id;
    let gen_config = GenerationConfig {
        max_new_tokens: args.max_new_tokens,
        min_new_tokens: args.min_new_tokens.min(args.max_new_tokens),
        sampler,
        eos_token_id: Some(eos),
        pad_token_id: eos,
    };
    let mut rng = StdRng::seed_from_u64(args.seed.unwrap_or(config.seed));
    let mut session = Session {
        loaded: &loaded,
        gen_config: &gen_config,
        args,
        device: &device,
    };
    match &args.prompt {
        Some(prompt) => session.answer(prompt, &mut rng),
        None => {
            let stdin = std::io::stdin();
            let interactive = std::io::IsTerminal::is_terminal(&stdin);
            if interactive {
                eprintln!("Type a prompt and press Enter (Ctrl-D to quit).");
            }
            let report = for_each_line(stdin.lock(), |_, line| {
                let answered = session.answer(line, &mut rng);
                std::io::stdout().flush().ok();
                answered
            })?;
            report.finish()
        }
    }
}

struct Session<'a> {
    loaded: &'a LoadedPolicy,
    gen_config: &'a GenerationConfig,
    args: &'a GenerateArgs,
    device: &'a burn::tensor::Device,
}

impl Session<'_> {
    fn answer(&mut self, prompt: &str, rng: &mut StdRng) -> anyhow::Result<()> {
        let tok = &self.loaded.tokenizer;
        let ids = tok.encode(prompt, false)?;
        if ids.is_empty() {
            bail!("the prompt is empty after tokenization");
        }
        let rows: Vec<&[u32]> = vec![ids.as_slice(); self.args.num_samples];
        let batch = left_pad(&rows, self.gen_config.pad_token_id);
        let out = generate(
            &self.loaded.policy.transformer,
            self.loaded.config.n_positions,
            &batch,
            self.gen_config,
            None,
            std::slice::from_mut(rng),
            self.device,
        )?;
        for (response, logprobs) in out.responses.iter().zip(&out.logprobs) {
            let text = tok.decode(response, true)?;
            if self.args.json {
                let line = serde_json::json!({
                    "prompt": prompt,
                    "response": text,
                    "response_ids": response,
                    "logprobs": logprobs,
                });
                println!("{line}");
            } else {
                println!("{prompt}{text}");
            }
        }
        Ok(())
    }
}
