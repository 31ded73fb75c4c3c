//! Our PPO math against TRL 0.11.4's own numbers (tests/reference/ppo_trl011.py).

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::PathBuf;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use config::KlPenalty;
use ppo::{
    KlController, LossConfig, LossInput, RunningMoments, compute_advantages, compute_rewards,
    kl_full, kl_penalty, last_indices, masked_mean, masked_var, masked_whiten, ppo_loss,
};
use serde_json::Value;

const TOL: f64 = 1e-5;

fn golden() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/ppo/trl011_golden.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn dev() -> Device {
    Device::flex()
}

fn flat(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap() as f32],
        other => panic!("not numeric: {other}"),
    }
}

fn t2(v: &Value) -> Tensor<2> {
    let rows = v.as_array().unwrap().len();
    let data = flat(v);
    let cols = data.len() / rows;
    Tensor::from_data(TensorData::new(data, [rows, cols]), &dev())
}

fn t3(v: &Value) -> Tensor<3> {
    let a = v.as_array().unwrap().len();
    let b = v[0].as_array().unwrap().len();
    let data = flat(v);
    let c = data.len() / (a * b);
    Tensor::from_data(TensorData::new(data, [a, b, c]), &dev())
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = f64::from((g - w).abs());
        assert!(
            err < TOL * (1.0 + f64::from(w.abs())),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

fn scalar(got: Tensor<1>, want: &Value, what: &str) {
    close(&host(got), &[want.as_f64().unwrap() as f32], what);
}

#[test]
fn masked_statistics_match_trl() {
    let g = golden();
    let (values, mask) = (t2(&g["values"]), t2(&g["mask"]));
    let m = &g["masked"];
    scalar(
        masked_mean(values.clone(), mask.clone()),
        &m["mean"],
        "mean",
    );
    scalar(
        masked_var(values.clone(), mask.clone(), true),
        &m["var_unbiased"],
        "var",
    );
    scalar(
        masked_var(values.clone(), mask.clone(), false),
        &m["var_biased"],
        "var biased",
    );
    // Whitened values only matter where the mask is 1.
    let keep = flat(&g["mask"]);
    let pick = |v: Vec<f32>| -> Vec<f32> {
        v.iter()
            .zip(&keep)
            .filter(|(_, m)| **m > 0.0)
            .map(|(x, _)| *x)
            .collect()
    };
    close(
        &pick(host(masked_whiten(values.clone(), mask.clone(), true))),
        &pick(flat(&m["whiten"])),
        "whiten",
    );
    close(
        &pick(host(masked_whiten(values, mask, false))),
        &pick(flat(&m["whiten_no_shift"])),
        "whiten no shift",
    );
}

#[test]
fn rewards_match_trl_for_every_kl_penalty() {
    let g = golden();
    let mask = flat(&g["mask"]);
    let r = g["mask"][0].as_array().unwrap().len();
    let last = last_indices(&mask, r).unwrap();
    let scores = flat(&g["scores"]);
    for (name, kind) in [
        ("kl", KlPenalty::Kl),
        ("abs", KlPenalty::Abs),
        ("mse", KlPenalty::Mse),
        ("full", KlPenalty::Full),
    ] {
        let kl = if kind == KlPenalty::Full {
            kl_full(
                log_softmax(t3(&g["logits"]), 2),
                log_softmax(t3(&g["ref_logits"]), 2),
            )
        } else {
            kl_penalty(t2(&g["logprobs"]), t2(&g["ref_logprobs"]), kind)
        };
        let want = &g["rewards"][name];
        close(
            &host(kl.clone()),
            &flat(&want["kls"]),
            &format!("{name} kls"),
        );
        let out = compute_rewards(&scores, kl, 0.2, &last);
        close(
            &host(out.rewards),
            &flat(&want["rewards"]),
            &format!("{name} rewards"),
        );
        close(
            &host(out.non_score_rewards),
            &flat(&want["non_score"]),
            &format!("{name} non-score"),
        );
    }
}

#[test]
fn advantages_match_trl() {
    let g = golden();
    let rewards = t2(&g["rewards"]["kl"]["rewards"]);
    let keep = flat(&g["mask"]);
    for name in ["default", "discounted_whitened"] {
        let want = &g["advantages"][name];
        let out = compute_advantages(
            t2(&g["values"]),
            rewards.clone(),
            t2(&g["mask"]),
            want["gamma"].as_f64().unwrap(),
            want["lam"].as_f64().unwrap(),
            want["whiten_rewards"].as_bool().unwrap(),
        );
        close(
            &host(out.values),
            &flat(&want["values"]),
            &format!("{name} values"),
        );
        close(
            &host(out.returns),
            &flat(&want["returns"]),
            &format!("{name} returns"),
        );
        let adv: Vec<f32> = host(out.advantages)
            .into_iter()
            .zip(&keep)
            .filter(|(_, m)| **m > 0.0)
            .map(|(a, _)| a)
            .collect();
        let want_adv: Vec<f32> = flat(&want["advantages"])
            .into_iter()
            .zip(&keep)
            .filter(|(_, m)| **m > 0.0)
            .map(|(a, _)| a)
            .collect();
        close(&adv, &want_adv, &format!("{name} advantages"));
    }
}

fn loss_input(g: &Value) -> LossInput {
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

#[test]
fn loss_and_statistics_match_trl() {
    let g = golden();
    for case in ["default", "skipped"] {
        let want = &g["loss"]["cases"][case];
        let config = LossConfig {
            cliprange: 0.2,
            cliprange_value: 0.2,
            vf_coef: 0.1,
            ratio_threshold: want["ratio_threshold"].as_f64().unwrap(),
        };
        let (loss, stats) = ppo_loss(loss_input(&g), &config);
        let s = &want["stats"];
        let expected_total =
            want["pg_loss"].as_f64().unwrap() + want["weighted_vf_loss"].as_f64().unwrap();
        close(&host(loss), &[expected_total as f32], "loss");
        let pairs = [
            ("loss/policy", stats.loss_policy),
            ("loss/value", stats.loss_value),
            ("loss/total", stats.loss_total),
            ("policy/entropy", stats.entropy),
            ("policy/approxkl", stats.approxkl),
            ("policy/policykl", stats.policykl),
            ("policy/clipfrac", stats.clipfrac),
            ("policy/advantages_mean", stats.advantages_mean),
            ("returns/mean", stats.returns_mean),
            ("returns/var", stats.returns_var),
            ("val/vpred", stats.vpred),
            ("val/error", stats.val_error),
            ("val/clipfrac", stats.val_clipfrac),
            ("val/mean", stats.val_mean),
            ("val/var", stats.val_var),
        ];
        for (key, got) in pairs {
            close(
                &[got as f32],
                &[s[key].as_f64().unwrap() as f32],
                &format!("{case} {key}"),
            );
        }
        assert_eq!(stats.skipped, case == "skipped");
    }
}

#[test]
fn kl_controllers_and_running_moments_match_trl() {
    let g = golden();
    let kc = &g["kl_controller"];
    let mut adaptive = KlController::new(true, 0.2, 6.0, 10000.0);
    let mut fixed = KlController::new(false, 0.2, 6.0, 10000.0);
    let n = kc["n_steps"].as_u64().unwrap() as usize;
    for (current, want) in kc["currents"]
        .as_array()
        .unwrap()
        .iter()
        .zip(kc["trace"].as_array().unwrap())
    {
        adaptive.update(current.as_f64().unwrap(), n);
        fixed.update(current.as_f64().unwrap(), n);
        assert!((adaptive.value() - want[0].as_f64().unwrap()).abs() < 1e-12);
        assert_eq!(fixed.value(), want[1].as_f64().unwrap());
    }
    let rm = &g["running_moments"];
    let mut running = RunningMoments::default();
    for (batch, want) in rm["batches"]
        .as_array()
        .unwrap()
        .iter()
        .zip(rm["after_each"].as_array().unwrap())
    {
        let xs: Vec<f64> = batch
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        running.update(&xs);
        let got = [running.mean, running.std, running.var, running.count];
        for (a, b) in got.iter().zip(want.as_array().unwrap()) {
            assert!((a - b.as_f64().unwrap()).abs() < 1e-5, "{got:?} vs {want}");
        }
    }
}

#[test]
fn masked_and_unmasked_inputs_give_equal_losses() {
    // TRL's invariant: padding content never changes the loss.
    let g = golden();
    let config = LossConfig {
        cliprange: 0.2,
        cliprange_value: 0.2,
        vf_coef: 0.1,
        ratio_threshold: 10.0,
    };
    let base = loss_input(&g);
    let noise: Tensor<2> = Tensor::from_data(TensorData::new(vec![37.0f32; 28], [4, 7]), &dev());
    let outside = t2(&g["mask"]).neg().add_scalar(1.0) * noise;
    let mut garbled = base.clone();
    garbled.logprobs = garbled.logprobs + outside.clone();
    garbled.vpreds = garbled.vpreds + outside.clone();
    garbled.old_values = garbled.old_values + outside.clone();
    garbled.returns = garbled.returns + outside;
    let (a, _) = ppo_loss(base, &config);
    let (b, _) = ppo_loss(garbled, &config);
    close(&host(a), &host(b), "loss");
}

#[test]
fn ratio_is_one_when_policy_equals_rollout() {
    let g = golden();
    let mut input = loss_input(&g);
    input.logprobs = input.old_logprobs.clone();
    let config = LossConfig {
        cliprange: 0.2,
        cliprange_value: 0.2,
        vf_coef: 0.1,
        ratio_threshold: 10.0,
    };
    let (_, stats) = ppo_loss(input, &config);
    assert_eq!(stats.ratio_mean, 1.0);
    assert_eq!(stats.clipfrac, 0.0);
    assert_eq!(stats.approxkl, 0.0);
}

#[test]
fn loss_gradient_matches_finite_differences() {
    // d loss / d logprobs on a tiny case, through burn's autodiff.
    let g = golden();
    let ad = dev().autodiff();
    let to_ad = |t: Tensor<2>| Tensor::<2>::from_data(t.into_data(), &ad);
    let config = LossConfig {
        cliprange: 0.2,
        cliprange_value: 0.2,
        vf_coef: 0.1,
        ratio_threshold: 10.0,
    };
    let base = loss_input(&g);
    let make = |logprobs: Tensor<2>| LossInput {
        old_logprobs: to_ad(base.old_logprobs.clone()),
        old_values: to_ad(base.old_values.clone()),
        logprobs,
        vpreds: to_ad(base.vpreds.clone()),
        mask: to_ad(base.mask.clone()),
        advantages: to_ad(base.advantages.clone()),
        returns: to_ad(base.returns.clone()),
        entropy: None,
    };
    let logprobs = to_ad(base.logprobs.clone()).require_grad();
    let (loss, _) = ppo_loss(make(logprobs.clone()), &config);
    let grads = loss.backward();
    let grad = host(logprobs.grad(&grads).unwrap());
    let eps = 1e-2f32;
    let lp = host(base.logprobs.clone());
    for i in [1usize, 9, 16, 27] {
        let bump = |delta: f32| {
            let mut v = lp.clone();
            v[i] += delta;
            let t = to_ad(Tensor::from_data(TensorData::new(v, [4, 7]), &dev()));
            host(ppo_loss(make(t), &config).0)[0]
        };
        let numeric = (bump(eps) - bump(-eps)) / (2.0 * eps);
        assert!(
            (numeric - grad[i]).abs() < 2e-3,
            "grad[{i}]: {} vs numeric {numeric}",
            grad[i]
        );
    }
}
