//! Our PPO math against TRL 0.11.4's own numbers (tests/reference/ppo_trl011.py): masked
//! statistics, rewards, advantages, KL controllers and running moments. The loss is in
//! golden_loss.rs.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use burn::tensor::activation::log_softmax;
use common::*;
use config::KlPenalty;
use ppo::{
    KlController, RunningMoments, compute_advantages, compute_rewards, kl_full, kl_penalty,
    last_indices, masked_mean, masked_var, masked_whiten,
};

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
