//! Cross-field checks: values that are valid one by one but not together.

use crate::{Config, ConfigError, Problem};

/// Collects failed checks.
struct Checks(Vec<Problem>);

impl Checks {
    fn require(&mut self, ok: bool, key: &str, message: impl FnOnce() -> String) {
        if !ok {
            self.0.push(Problem {
                key: key.to_string(),
                message: message(),
            });
        }
    }
}

impl Config {
    /// Checks every constraint and reports all failures at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut c = Checks(Vec::new());
        let p = &self.ppo;
        for (key, value) in [
            ("ppo.batch_size", p.batch_size),
            ("ppo.mini_batch_size", p.mini_batch_size),
            (
                "ppo.gradient_accumulation_steps",
                p.gradient_accumulation_steps,
            ),
            ("ppo.ppo_epochs", p.ppo_epochs),
            ("ppo.steps", p.steps),
            ("reward.batch_size", self.reward.batch_size),
        ] {
            c.require(value > 0, key, || "must be at least 1".into());
        }
        let backward = p.backward_batch_size();
        c.require(backward == 0 || p.batch_size.is_multiple_of(backward), "ppo.batch_size", || {
            format!(
                "batch_size ({}) must be a multiple of mini_batch_size x gradient_accumulation_steps \
                 ({} x {} = {backward}); change one of them",
                p.batch_size, p.mini_batch_size, p.gradient_accumulation_steps
            )
        });
        for (key, value) in [
            ("ppo.learning_rate", p.learning_rate),
            ("ppo.cliprange", p.cliprange),
            ("ppo.cliprange_value", p.cliprange_value),
            ("ppo.horizon", p.horizon),
            ("ppo.ratio_threshold", p.ratio_threshold),
            ("ppo.adam_epsilon", p.adam_epsilon),
            ("generation.temperature", self.generation.temperature),
        ] {
            c.require(value > 0.0, key, || format!("must be > 0, got {value}"));
        }
        for (key, value) in [("ppo.gamma", p.gamma), ("ppo.lam", p.lam)] {
            c.require((0.0..=1.0).contains(&value), key, || {
                format!("must be in [0, 1], got {value}")
            });
        }
        c.require(p.init_kl_coef >= 0.0, "ppo.init_kl_coef", || {
            "must be >= 0".into()
        });
        c.require(!p.adap_kl_ctrl || p.target > 0.0, "ppo.target", || {
            "the adaptive KL controller needs target > 0 (or set ppo.adap_kl_ctrl = false)".into()
        });
        c.require(
            !p.early_stopping || p.target_kl > 0.0,
            "ppo.target_kl",
            || "early_stopping needs target_kl > 0".into(),
        );
        c.require(!p.use_score_norm || p.use_score_scaling, "ppo.use_score_norm", || {
            "score normalisation only applies with score scaling: set ppo.use_score_scaling = true"
                .into()
        });
        for (key, value) in [
            ("ppo.max_grad_norm", p.max_grad_norm),
            ("ppo.score_clip", p.score_clip),
        ] {
            c.require(value.is_none_or(|v| v > 0.0), key, || {
                "must be > 0 when set".into()
            });
        }
        let d = &self.data;
        c.require(
            d.input_min_text_length >= 1,
            "data.input_min_text_length",
            || "prompts need at least 1 token".into(),
        );
        c.require(
            d.input_min_text_length < d.input_max_text_length,
            "data.input_max_text_length",
            || {
                format!(
                    "lengths are drawn from [min, max), so input_max_text_length ({}) must exceed \
                     input_min_text_length ({})",
                    d.input_max_text_length, d.input_min_text_length
                )
            },
        );
        let g = &self.generation;
        c.require(
            g.output_min_length >= 1,
            "generation.output_min_length",
            || "responses need at least 1 token".into(),
        );
        c.require(
            g.output_min_length < g.output_max_length,
            "generation.output_max_length",
            || {
                format!(
                    "lengths are drawn from [min, max), so output_max_length ({}) must exceed \
                     output_min_length ({})",
                    g.output_max_length, g.output_min_length
                )
            },
        );
        c.require(g.top_p > 0.0 && g.top_p <= 1.0, "generation.top_p", || {
            format!("must be in (0, 1], got {}", g.top_p)
        });
        c.require(!self.reward.label.trim().is_empty(), "reward.label", || {
            "name the id2label entry to reward, e.g. POSITIVE".into()
        });
        c.require(!self.exp_name.trim().is_empty(), "exp_name", || {
            "must not be empty".into()
        });
        if c.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Inconsistent { problems: c.0 })
        }
    }
}
