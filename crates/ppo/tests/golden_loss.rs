//! The PPO loss against TRL 0.11.4's own numbers (tests/reference/ppo_trl011.py), and its
//! invariants: padding never changes it, the ratio is 1 on the rollout policy, and its gradient
//! matches finite differences.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use burn::tensor::{Tensor, TensorData};
use common::*;
use ppo::{LossConfig, LossInput, ppo_loss};

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
