//! bf16 block linears for frozen models (`frozen.dtype = "bf16"`): exactly the block weights
//! change dtype, and the outputs stay close to f32 without being equal.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use burn::tensor::{DType, FloatDType, Tensor};
use common::{device, fixtures, gpt2_dir, roberta_dir};
use dataset::HubOptions;
use models::gpt2::position_ids;
use models::precision::cast_block_linears;
use models::weights::ids_tensor;
use models::{Gpt2Input, Gpt2WithValueHead, ModelFiles, RewardModel, ValueHeadInit};

fn policy() -> Gpt2WithValueHead {
    let files = ModelFiles::resolve(
        gpt2_dir().to_str().unwrap(),
        "main",
        &HubOptions::from_env(),
    )
    .unwrap();
    Gpt2WithValueHead::load(&files, ValueHeadInit::default(), &device())
        .unwrap()
        .0
}

fn logits(model: &Gpt2WithValueHead, ids: &[u32]) -> Vec<f32> {
    let t = ids.len();
    let input = Gpt2Input {
        input_ids: ids_tensor(ids, 1, t, &device()),
        position_ids: position_ids(&vec![1; t], 1, t, &[0], &device()),
        attention_mask: None,
    };
    let out = model.forward(input, None);
    let logits: Tensor<3> = out.logits;
    assert_eq!(logits.dtype(), DType::F32, "logits stay f32");
    logits.into_data().iter::<f32>().collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn gpt2_casts_only_its_block_linears_and_stays_close_to_f32() {
    let full = policy();
    let (low, cast) = cast_block_linears(full.clone(), FloatDType::BF16);
    // Four linears per block (c_attn, attn.c_proj, c_fc, mlp.c_proj), two blocks.
    assert_eq!(cast, 8);
    for block in &low.transformer.h {
        assert_eq!(block.attn.c_attn.weight.val().dtype(), DType::BF16);
        assert_eq!(block.mlp.c_proj.weight.val().dtype(), DType::BF16);
        let bias = block.attn.c_attn.bias.as_ref().unwrap();
        assert_eq!(bias.val().dtype(), DType::F32, "biases stay f32");
        assert_eq!(block.ln_1.gamma.val().dtype(), DType::F32);
    }
    assert_eq!(low.transformer.wte.weight.val().dtype(), DType::F32);
    assert_eq!(low.v_head.summary.weight.val().dtype(), DType::F32);

    let ids = [464u32, 3290, 373, 257, 1049, 286, 262, 1110];
    let (a, b) = (logits(&full, &ids), logits(&low, &ids));
    let err = max_abs_diff(&a, &b);
    assert!(err > 0.0, "the bf16 products must round somewhere");
    assert!(err < 0.05, "bf16 logits differ by {err}");
}

#[test]
fn classifiers_cast_their_encoder_blocks_not_their_heads() {
    let hub = HubOptions::from_env();
    let text = vec!["A warm, funny and beautifully acted film.".to_string()];
    for (dir, per_layer) in [
        (roberta_dir(), 6),
        (fixtures().join("tiny-bert"), 6),
        (fixtures().join("tiny-distilbert"), 6),
        (fixtures().join("tiny-gpt2-classifier"), 4),
    ] {
        let load = || RewardModel::load(dir.to_str().unwrap(), "main", &hub, &device()).unwrap();
        let full = load().score(&text, 1, 512).unwrap();
        let (_, cast) = cast_block_linears(load().model, FloatDType::BF16);
        assert_eq!(cast, 2 * per_layer, "{}", dir.display());
        let low = load()
            .with_block_dtype(FloatDType::BF16)
            .score(&text, 1, 512)
            .unwrap();
        let err = max_abs_diff(&full[0], &low[0]);
        assert!(err > 0.0 && err < 0.05, "{}: error {err}", dir.display());
    }
}

#[test]
fn own_storage_copies_the_weights_unchanged() {
    let full = policy();
    let copy = models::weights::with_own_storage(full.clone());
    let values = |t: Tensor<2>| -> Vec<f32> { t.into_data().iter::<f32>().collect() };
    let pairs = [
        (&full.transformer.wte.weight, &copy.transformer.wte.weight),
        (
            &full.transformer.h[1].mlp.c_fc.weight,
            &copy.transformer.h[1].mlp.c_fc.weight,
        ),
        (&full.v_head.summary.weight, &copy.v_head.summary.weight),
    ];
    for (a, b) in pairs {
        let (a, b) = (values(a.val()), values(b.val()));
        assert!(!a.is_empty());
        assert_eq!(a, b);
    }
    let ids = [464u32, 3290, 373];
    assert_eq!(logits(&full, &ids), logits(&copy, &ids));
}
