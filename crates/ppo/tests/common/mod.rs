//! Helpers of the golden tests: TRL 0.11.4's numbers (tests/fixtures/ppo/trl011_golden.json,
//! written by tests/reference/ppo_trl011.py) as tensors, and tolerant comparisons.

#![allow(dead_code)] // Each test binary uses its own subset.
#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::PathBuf;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use ppo::LossInput;
use serde_json::Value;

pub const TOL: f64 = 1e-5;

pub fn golden() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/ppo/trl011_golden.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn dev() -> Device {
    Device::flex()
}

pub fn flat(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap() as f32],
        other => panic!("not numeric: {other}"),
    }
}

pub fn t2(v: &Value) -> Tensor<2> {
    let rows = v.as_array().unwrap().len();
    let data = flat(v);
    let cols = data.len() / rows;
    Tensor::from_data(TensorData::new(data, [rows, cols]), &dev())
}

pub fn t3(v: &Value) -> Tensor<3> {
    let a = v.as_array().unwrap().len();
    let b = v[0].as_array().unwrap().len();
    let data = flat(v);
    let c = data.len() / (a * b);
    Tensor::from_data(TensorData::new(data, [a, b, c]), &dev())
}

pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

pub fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = f64::from((g - w).abs());
        assert!(
            err < TOL * (1.0 + f64::from(w.abs())),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

pub fn scalar(got: Tensor<1>, want: &Value, what: &str) {
    close(&host(got), &[want.as_f64().unwrap() as f32], what);
}

/// The loss inputs of the golden case (entropy from the new logits).
pub fn loss_input(g: &Value) -> LossInput {
    let adv = &g["advantages"]["default"];
    let new_logits = t3(&g["loss"]["new_logits"]);
    let logp = log_softmax(new_logits.clone(), 2);
    let entropy = (logp.clone().exp() * logp)
        .sum_dim(2)
        .squeeze_dim::<2>(2)
        .neg();
    LossInput {
        old_logprobs: t2(&g["logprobs"]),
        old_values: t2(&adv["values"]),
        logprobs: t2(&g["loss"]["new_logprobs"]),
        vpreds: t2(&g["loss"]["vpreds"]),
        mask: t2(&g["mask"]),
        advantages: t2(&adv["advantages"]),
        returns: t2(&adv["returns"]),
        entropy: Some(entropy),
    }
}
