//! Compares our logits with transformers' on any HF model directory (GPT-2 or RoBERTa).
//!
//! `cargo run --release -p models --example parity -- MODEL_DIR REFERENCE.safetensors`
//! where the reference file comes from `tests/reference/parity.py` (`cargo xtask parity` runs
//! both). Prints the max absolute logit error over real (non-padding) positions; exits 1 when
//! it exceeds the tolerance (default 1e-3, or the third argument).

use std::path::Path;
use std::process::ExitCode;

use burn::tensor::Device;
use dataset::HubOptions;
use models::gpt2::position_ids;
use models::weights::ids_tensor;
use models::{
    Gpt2Input, Gpt2WithValueHead, ModelFiles, RewardModel, RobertaConfig, ValueHeadInit, WeightMap,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: parity MODEL_DIR REFERENCE.safetensors [TOLERANCE]");
        return ExitCode::from(2);
    }
    let tolerance: f32 = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(1e-3);
    match run(&args[0], Path::new(&args[1])) {
        Ok(err) => {
            println!("max abs logit error: {err:.3e} (tolerance {tolerance:.0e})");
            if err <= tolerance {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn floats(map: &mut WeightMap, key: &str) -> Result<(Vec<f32>, Vec<usize>), String> {
    let data = map.remove(key).ok_or(format!("reference has no `{key}`"))?;
    Ok((data.iter::<f32>().collect(), data.shape().to_vec()))
}

fn run(model_dir: &str, reference: &Path) -> Result<f32, Box<dyn std::error::Error>> {
    let device = Device::flex();
    let hub = HubOptions::from_env();
    let files = ModelFiles::resolve(model_dir, "main", &hub)?;
    let mut refs = WeightMap::read(reference)?;
    let (ids, shape) = floats(&mut refs, "input_ids")?;
    let (mask, _) = floats(&mut refs, "attention_mask")?;
    let (want, _) = floats(&mut refs, "logits")?;
    let (b, t) = (shape[0], shape[1]);
    let ids: Vec<u32> = ids.iter().map(|&x| x as u32).collect();
    let mask: Vec<u32> = mask.iter().map(|&x| x as u32).collect();
    let kind = models::hf_config::read_config_json(&files.config)?;
    let mut err = 0.0f32;
    if kind["model_type"] == "gpt2" {
        let (policy, _) = Gpt2WithValueHead::load(&files, ValueHeadInit::Default, &device)?;
        let input = Gpt2Input {
            input_ids: ids_tensor(&ids, b, t, &device),
            position_ids: position_ids(&mask, b, t, &vec![0; b], &device),
            attention_mask: Some(ids_tensor(&mask, b, t, &device)),
        };
        let got: Vec<f32> = policy
            .forward(input, None)
            .logits
            .into_data()
            .iter::<f32>()
            .collect();
        let v = got.len() / (b * t);
        for (pos, &m) in mask.iter().enumerate() {
            if m == 1 {
                for i in pos * v..(pos + 1) * v {
                    err = err.max((got[i] - want[i]).abs());
                }
            }
        }
    } else {
        let _ = RobertaConfig::from_file(&files.config)?;
        let rm = RewardModel::load(model_dir, "main", &hub, &device)?;
        let rows: Vec<Vec<u32>> = (0..b)
            .map(|r| {
                (0..t)
                    .filter(|&c| mask[r * t + c] == 1)
                    .map(|c| ids[r * t + c])
                    .collect()
            })
            .collect();
        let got: Vec<f32> = rm.logits(&rows)?.concat();
        for (g, w) in got.iter().zip(&want) {
            err = err.max((g - w).abs());
        }
    }
    Ok(err)
}
