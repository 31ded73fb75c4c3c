//! GPT-2 + value head against transformers/TRL outputs (tests/reference/make_model_fixtures.py).

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use burn::tensor::Tensor;
use common::{device, expected, floats, gpt2_dir, ints, max_abs_diff};
use dataset::{HubOptions, Tokenizer, left_pad};
use models::gpt2::position_ids;
use models::weights::ids_tensor;
use models::{
    GenerationConfig, Gpt2Config, Gpt2Input, Gpt2WithValueHead, ModelFiles, ValueHeadInit, generate,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

const TOL: f32 = 1e-4;

fn load() -> (Gpt2WithValueHead, Gpt2Config) {
    let files = ModelFiles::resolve(
        gpt2_dir().to_str().unwrap(),
        "main",
        &HubOptions::from_env(),
    )
    .expect("fixture resolves");
    Gpt2WithValueHead::load(&files, ValueHeadInit::default(), &device()).expect("fixture loads")
}

/// Host copy of a `[b, t, v]` tensor.
fn host3(t: Tensor<3>) -> (Vec<f32>, [usize; 3]) {
    let dims = t.dims();
    (t.into_data().iter::<f32>().collect(), dims)
}

/// Checks one position's logits row against the stored summary.
fn check_row(ours: &[f32], summary: &serde_json::Value, pos: usize, sample_ids: &[u32]) {
    let max = ours.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max + ours.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
    let want_lse = summary["logsumexp"][pos].as_f64().unwrap() as f32;
    assert!(
        (lse - want_lse).abs() < TOL,
        "logsumexp at {pos}: {lse} vs {want_lse}"
    );
    let argmax = models::sampling::argmax(ours) as u64;
    assert_eq!(
        argmax,
        summary["argmax"][pos].as_u64().unwrap(),
        "argmax at {pos}"
    );
    let picked: Vec<f32> = sample_ids.iter().map(|&i| ours[i as usize]).collect();
    let err = max_abs_diff(&picked, &floats(&summary["sample_logits"][pos]));
    assert!(err < TOL, "logits at {pos}: max abs error {err}");
}

#[test]
fn single_texts_match_transformers() {
    let (policy, _) = load();
    let exp = expected();
    let sample_ids = ints(&exp["gpt2"]["sample_ids"]);
    let dev = device();
    for case in exp["gpt2"]["single"].as_array().unwrap() {
        let ids = ints(&case["input_ids"]);
        let t = ids.len();
        let input = Gpt2Input {
            input_ids: ids_tensor(&ids, 1, t, &dev),
            position_ids: position_ids(&vec![1; t], 1, t, &[0], &dev),
            attention_mask: None,
        };
        let out = policy.forward(input, None);
        let (logits, [_, _, v]) = host3(out.logits);
        for pos in 0..t {
            check_row(&logits[pos * v..(pos + 1) * v], case, pos, &sample_ids);
        }
        let values: Vec<f32> = out.values.into_data().iter::<f32>().collect();
        let err = max_abs_diff(&values, &floats(&case["values"]));
        assert!(err < TOL, "values: max abs error {err}");
    }
}

#[test]
fn left_padded_batch_matches_transformers() {
    let (policy, _) = load();
    let exp = expected();
    let sample_ids = ints(&exp["gpt2"]["sample_ids"]);
    let padded = &exp["gpt2"]["padded"];
    let rows: Vec<Vec<u32>> = padded["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(ints)
        .collect();
    let masks: Vec<Vec<u32>> = padded["attention_mask"]
        .as_array()
        .unwrap()
        .iter()
        .map(ints)
        .collect();
    let (b, t) = (rows.len(), rows[0].len());
    let flat_ids: Vec<u32> = rows.concat();
    let flat_mask: Vec<u32> = masks.concat();
    let dev = device();
    let mask_tensor = ids_tensor(&flat_mask, b, t, &dev);
    let input = Gpt2Input {
        input_ids: ids_tensor(&flat_ids, b, t, &dev),
        position_ids: position_ids(&flat_mask, b, t, &vec![0; b], &dev),
        attention_mask: Some(mask_tensor),
    };
    let out = policy.forward(input, None);
    let (logits, [_, _, v]) = host3(out.logits);
    let values: Vec<f32> = out.values.into_data().iter::<f32>().collect();
    for (row, summary) in padded["rows"].as_array().unwrap().iter().enumerate() {
        for pos in (0..t).filter(|&p| masks[row][p] == 1) {
            let start = (row * t + pos) * v;
            check_row(&logits[start..start + v], summary, pos, &sample_ids);
            let want = summary["values"][pos].as_f64().unwrap() as f32;
            assert!(
                (values[row * t + pos] - want).abs() < TOL,
                "value row {row} pos {pos}"
            );
        }
    }
}

#[test]
fn greedy_generation_matches_transformers_tokens_and_text() {
    let (policy, config) = load();
    let exp = expected();
    let greedy = &exp["gpt2"]["greedy"];
    let prompts: Vec<Vec<u32>> = exp["gpt2"]["single"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ints(&c["input_ids"]))
        .collect();
    let refs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
    let batch = left_pad(&refs, config.eos_token_id);
    let gen_config = GenerationConfig::greedy(8, config.eos_token_id);
    let mut rng = StdRng::seed_from_u64(0);
    let out = generate(
        &policy.transformer,
        config.n_positions,
        &batch,
        &gen_config,
        None,
        std::slice::from_mut(&mut rng),
        &device(),
    )
    .expect("generation runs");
    let tokenizer = Tokenizer::from_file(&gpt2_dir().join("tokenizer.json")).unwrap();
    for (row, response) in out.responses.iter().enumerate() {
        assert_eq!(response, &ints(&greedy["tokens"][row]), "row {row} tokens");
        let text = tokenizer.decode(response, true).unwrap();
        assert_eq!(
            text,
            greedy["texts"][row].as_str().unwrap(),
            "row {row} text"
        );
        // Log-probs are the model's own (greedy picks the argmax, so they are the row max).
        assert!(out.logprobs[row].iter().all(|l| l.is_finite() && *l <= 0.0));
    }
}

#[test]
fn cached_and_uncached_logits_are_equal() {
    let (policy, config) = load();
    let dev = device();
    let ids: Vec<u32> = vec![40, 1107, 750, 407, 588, 262, 7205];
    let t = ids.len();
    let full = policy.transformer.forward(
        Gpt2Input {
            input_ids: ids_tensor(&ids, 1, t, &dev),
            position_ids: position_ids(&vec![1; t], 1, t, &[0], &dev),
            attention_mask: None,
        },
        None,
    );
    let (full, [_, _, d]) = host3(full);
    let mut cache = models::KvCache::new(config.n_layer);
    let mut stepped = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let h = policy.transformer.forward(
            Gpt2Input {
                input_ids: ids_tensor(&[id], 1, 1, &dev),
                position_ids: position_ids(&[1], 1, 1, &[i as u32], &dev),
                attention_mask: Some(ids_tensor(&vec![1; i + 1], 1, i + 1, &dev)),
            },
            Some(&mut cache),
        );
        stepped.extend(host3(h).0);
    }
    assert_eq!(cache.len(), t);
    let err = max_abs_diff(&full, &stepped);
    assert!(
        err < 1e-5,
        "cached vs full hidden states differ by {err} (d = {d})"
    );
}

/// A left-padded batch stepped one token at a time inside a sampling loop (where an AVX-512
/// CPU takes the host cache and the decoding kernel) gives the hidden states of one full pass.
#[test]
fn steps_in_a_sampling_loop_equal_the_full_pass() {
    let (policy, config) = load();
    let dev = device();
    let (b, t) = (2, 6);
    let ids: Vec<u32> = vec![0, 0, 40, 1107, 750, 407, 588, 262, 7205, 11, 314, 716];
    let mask: Vec<u32> = vec![0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    let full = policy.transformer.forward(
        Gpt2Input {
            input_ids: ids_tensor(&ids, b, t, &dev),
            position_ids: position_ids(&mask, b, t, &[0, 0], &dev),
            attention_mask: Some(ids_tensor(&mask, b, t, &dev)),
        },
        None,
    );
    let (full, [_, _, d]) = host3(full);
    let prefill = 3;
    let stepped = models::fused::while_decoding(|| {
        let mut cache = models::KvCache::new(config.n_layer);
        let columns = |from: usize, to: usize, of: &[u32]| -> Vec<u32> {
            (0..b)
                .flat_map(|r| of[r * t + from..r * t + to].to_vec())
                .collect()
        };
        let mut hidden = vec![Vec::new(); b];
        let mut seen = vec![0u32; b];
        let mut from = 0;
        for to in std::iter::once(prefill).chain(prefill + 1..=t) {
            let step_mask = columns(from, to, &mask);
            let h = policy.transformer.forward(
                Gpt2Input {
                    input_ids: ids_tensor(&columns(from, to, &ids), b, to - from, &dev),
                    position_ids: position_ids(&step_mask, b, to - from, &seen, &dev),
                    attention_mask: Some(ids_tensor(&columns(0, to, &mask), b, to, &dev)),
                },
                Some(&mut cache),
            );
            for (row, s) in seen.iter_mut().enumerate() {
                *s += step_mask[row * (to - from)..(row + 1) * (to - from)]
                    .iter()
                    .sum::<u32>();
            }
            let (h, _) = host3(h);
            for (row, rows) in h.chunks(h.len() / b).enumerate() {
                hidden[row].extend_from_slice(rows);
            }
            from = to;
        }
        assert_eq!(cache.len(), t);
        hidden.concat()
    });
    // Padded positions attend to nothing real; compare the real ones.
    for row in 0..b {
        for pos in (0..t).filter(|&p| mask[row * t + p] == 1) {
            let at = (row * t + pos) * d;
            let err = max_abs_diff(&full[at..at + d], &stepped[at..at + d]);
            assert!(err < 1e-4, "row {row} position {pos}: differs by {err}");
        }
    }
}
