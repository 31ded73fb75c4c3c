//! Writing models in Hugging Face layout: `config.json` + `model.safetensors` (+ tokenizer).
//!
//! Our policy checkpoints use the same layout with the value head added (`v_head.summary.*`,
//! TRL's key names), so one loader reads the hub's checkpoints, ours and TRL's. Files are written
//! to a temporary name and renamed, so a crash never leaves a half-written model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::nn::{LayerNorm, Linear};
use burn::tensor::TensorData;
use safetensors::tensor::{Dtype, TensorView};

use crate::ModelError;
use crate::gpt2::Gpt2Config;
use crate::policy::Gpt2WithValueHead;
use crate::weights::{host_f32, transpose};

/// Named host tensors in HF key order.
pub type NamedTensors = Vec<(String, TensorData)>;

/// The policy's tensors under `GPT2LMHeadModel` names (`transformer.*`), plus the value head
/// (`v_head.summary.*`, `nn.Linear` layout) when `with_value_head`.
pub fn policy_tensors(policy: &Gpt2WithValueHead, with_value_head: bool) -> NamedTensors {
    let mut out = NamedTensors::new();
    let g = &policy.transformer;
    let mut push = |name: String, data: TensorData| out.push((name, data));
    push(
        "transformer.wte.weight".into(),
        host_f32(&g.wte.weight.val()),
    );
    push(
        "transformer.wpe.weight".into(),
        host_f32(&g.wpe.weight.val()),
    );
    for (i, block) in g.h.iter().enumerate() {
        let p = format!("transformer.h.{i}");
        layer_norm(&mut push, &format!("{p}.ln_1"), &block.ln_1);
        conv1d(&mut push, &format!("{p}.attn.c_attn"), &block.attn.c_attn);
        conv1d(&mut push, &format!("{p}.attn.c_proj"), &block.attn.c_proj);
        layer_norm(&mut push, &format!("{p}.ln_2"), &block.ln_2);
        conv1d(&mut push, &format!("{p}.mlp.c_fc"), &block.mlp.c_fc);
        conv1d(&mut push, &format!("{p}.mlp.c_proj"), &block.mlp.c_proj);
    }
    layer_norm(&mut push, "transformer.ln_f", &g.ln_f);
    if with_value_head {
        torch_linear(&mut push, "v_head.summary", &policy.v_head.summary);
    }
    out
}

fn layer_norm(push: &mut impl FnMut(String, TensorData), prefix: &str, ln: &LayerNorm) {
    push(format!("{prefix}.weight"), host_f32(&ln.gamma.val()));
    if let Some(beta) = &ln.beta {
        push(format!("{prefix}.bias"), host_f32(&beta.val()));
    }
}

/// HF `Conv1D` keeps burn's `[d_in, d_out]` layout.
fn conv1d(push: &mut impl FnMut(String, TensorData), prefix: &str, linear: &Linear) {
    push(format!("{prefix}.weight"), host_f32(&linear.weight.val()));
    if let Some(bias) = &linear.bias {
        push(format!("{prefix}.bias"), host_f32(&bias.val()));
    }
}

/// PyTorch `nn.Linear` stores `[d_out, d_in]`.
pub(crate) fn torch_linear(
    push: &mut impl FnMut(String, TensorData),
    prefix: &str,
    linear: &Linear,
) {
    let [d_in, d_out] = linear.weight.dims();
    let weight = host_f32(&linear.weight.val());
    push(format!("{prefix}.weight"), transpose(&weight, d_in, d_out));
    if let Some(bias) = &linear.bias {
        push(format!("{prefix}.bias"), host_f32(&bias.val()));
    }
}

/// Writes `tensors` as a SafeTensors file (f32, `format = pt` metadata as transformers
/// requires), atomically.
pub fn write_safetensors(path: &Path, tensors: &NamedTensors) -> Result<(), ModelError> {
    let write_err = |message: String| ModelError::Write {
        path: path.to_path_buf(),
        message,
    };
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, data)| {
            let raw: Vec<u8> = data.iter::<f32>().flat_map(f32::to_le_bytes).collect();
            (name.clone(), data.shape().to_vec(), raw)
        })
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, shape, raw) in &bytes {
        let view = TensorView::new(Dtype::F32, shape.clone(), raw)
            .map_err(|e| write_err(format!("tensor `{name}`: {e}")))?;
        views.push((name.clone(), view));
    }
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let serialized = safetensors::tensor::serialize(views, Some(metadata))
        .map_err(|e| write_err(e.to_string()))?;
    write_atomic(path, &serialized)
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), ModelError> {
    let write_err = |e: std::io::Error| ModelError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut tmp = PathBuf::from(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tmp.set_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents).map_err(write_err)?;
    std::fs::rename(&tmp, path).map_err(write_err)
}

/// Whether a saved policy keeps TRL's value head (`v_head.summary.*`) in `model.safetensors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueHeadWeights {
    /// Keep it (checkpoints, TRL's `AutoModelForCausalLMWithValueHead`).
    Keep,
    /// Leave it out (a plain `GPT2LMHeadModel`).
    Drop,
}

/// Saves the policy in HF layout into `dir`: `config.json`, `model.safetensors` (with or without
/// the value head), and copies of the given tokenizer files.
/// `transformers.GPT2LMHeadModel.from_pretrained(dir)` loads the result.
pub fn save_policy(
    policy: &Gpt2WithValueHead,
    config: &Gpt2Config,
    dir: &Path,
    value_head: ValueHeadWeights,
    tokenizer_files: &[PathBuf],
) -> Result<(), ModelError> {
    let with_value_head = value_head == ValueHeadWeights::Keep;
    write_safetensors(
        &dir.join("model.safetensors"),
        &policy_tensors(policy, with_value_head),
    )?;
    let json = serde_json::to_vec_pretty(&config.to_hf_json()).map_err(|e| ModelError::Write {
        path: dir.join("config.json"),
        message: e.to_string(),
    })?;
    write_atomic(&dir.join("config.json"), &json)?;
    copy_files(dir, tokenizer_files)
}

/// The tokenizer files a saved model carries: `tokenizer_json` and, when it exists beside it,
/// `tokenizer_config.json` (transformers' `AutoTokenizer` reads both).
pub fn tokenizer_files(tokenizer_json: &Path) -> Vec<PathBuf> {
    let config = tokenizer_json.with_file_name("tokenizer_config.json");
    let mut files = vec![tokenizer_json.to_path_buf()];
    files.extend(Some(config).filter(|c| c.is_file()));
    files
}

/// Copies `files` (tokenizer files) into `dir`, each atomically.
pub fn copy_files(dir: &Path, files: &[PathBuf]) -> Result<(), ModelError> {
    for file in files {
        let Some(name) = file.file_name() else {
            continue;
        };
        let contents = std::fs::read(file).map_err(|e| ModelError::Write {
            path: file.clone(),
            message: format!("cannot read tokenizer file: {e}"),
        })?;
        write_atomic(&dir.join(name), &contents)?;
    }
    Ok(())
}
