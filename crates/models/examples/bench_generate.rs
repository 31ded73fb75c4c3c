//! Our generation speed on CPU (flex), the counterpart of tests/reference/bench_generate.py.
//!
//! `cargo run --release -p models --example bench_generate -- MODEL_DIR [BATCH ...]`
//! Same prompts and settings as the Python side: left-padded batch, sampling with top_k=0,
//! top_p=1.0, exactly 16 new tokens. Prints one JSON object per batch size.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use dataset::{HubOptions, Tokenizer, left_pad};
use models::sampling::Sampler;
use models::{GenerationConfig, Gpt2WithValueHead, ModelFiles, ValueHeadInit, generate};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The same allocator as the `rlhf` binary, so the figures match what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NEW_TOKENS: usize = 16;
const REPEATS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model_dir = args
        .first()
        .ok_or("usage: bench_generate MODEL_DIR [BATCH ...]")?;
    let batches: Vec<usize> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|b| b.parse())
            .collect::<Result<_, _>>()?
    } else {
        vec![1, 16]
    };
    let prompts_file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/bench_prompts.json");
    let prompts: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(prompts_file)?)?;
    let prompts: Vec<String> = prompts["prompts"]
        .as_array()
        .ok_or("prompts")?
        .iter()
        .filter_map(|p| p.as_str().map(String::from))
        .collect();

    let device = Device::flex();
    let files = ModelFiles::resolve(model_dir, "main", &HubOptions::from_env())?;
    let (policy, config) = Gpt2WithValueHead::load(&files, ValueHeadInit::Default, &device)?;
    let tokenizer = Tokenizer::from_file(files.tokenizer.as_ref().ok_or("no tokenizer.json")?)?;
    let eos = config.eos_token_id;
    let gen_config = GenerationConfig {
        max_new_tokens: NEW_TOKENS,
        min_new_tokens: NEW_TOKENS,
        sampler: Sampler {
            do_sample: true,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
        },
        eos_token_id: Some(eos),
        pad_token_id: eos,
    };
    let mut rng = StdRng::seed_from_u64(0);
    for b in batches {
        let rows: Vec<Vec<u32>> = prompts
            .iter()
            .cycle()
            .take(b)
            .map(|p| tokenizer.encode(p, false))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        let batch = left_pad(&refs, eos);
        let mut run = || {
            generate(
                &policy.transformer,
                config.n_positions,
                &batch,
                &gen_config,
                None,
                &mut rng,
                &device,
            )
        };
        run()?; // warm-up
        let mut times = Vec::new();
        for _ in 0..REPEATS {
            let start = Instant::now();
            let out = run()?;
            times.push(start.elapsed().as_secs_f64());
            assert!(out.responses.iter().all(|r| r.len() == NEW_TOKENS));
        }
        times.sort_by(f64::total_cmp);
        let seconds = times[times.len() / 2];
        let line = serde_json::json!({
            "impl": "rlhf-burn-flex",
            "batch": b,
            "new_tokens": NEW_TOKENS,
            "seconds": seconds,
            "tokens_per_s": (b * NEW_TOKENS) as f64 / seconds,
        });
        println!("{line}");
    }
    Ok(())
}
