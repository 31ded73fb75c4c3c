//! Cross-field checks: values that are valid one by one but not together.

use crate::{Config, ConfigError, Problem, TrainingConfig};

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
            ("reward.normalize_samples", self.reward.normalize_samples),
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
        let name = self.exp_name.trim();
        c.require(
            !name.contains(['/', '\\']) && name != "." && name != "..",
            "exp_name",
            || {
                format!(
                    "`{name}` is not a plain directory name: the run directory must stay inside \
                     output.dir; use letters, digits, `-`, `_` or `.`"
                )
            },
        );
        self.check_supervised(&mut c);
        self.check_finite(&mut c);
        c.require(self.reward.max_length >= 3, "reward.max_length", || {
            format!(
                "must hold <s>, at least one token and </s> (>= 3), got {}",
                self.reward.max_length
            )
        });
        if c.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Inconsistent { problems: c.0 })
        }
    }

    /// Every float key must be a finite number (TOML accepts `nan` and `inf`).
    fn check_finite(&self, c: &mut Checks) {
        let p = &self.ppo;
        let optional = |v: Option<f64>| v.unwrap_or(0.0);
        for (key, value) in [
            ("ppo.learning_rate", p.learning_rate),
            ("ppo.init_kl_coef", p.init_kl_coef),
            ("ppo.target", p.target),
            ("ppo.horizon", p.horizon),
            ("ppo.gamma", p.gamma),
            ("ppo.lam", p.lam),
            ("ppo.cliprange", p.cliprange),
            ("ppo.cliprange_value", p.cliprange_value),
            ("ppo.vf_coef", p.vf_coef),
            ("ppo.max_grad_norm", optional(p.max_grad_norm)),
            ("ppo.target_kl", p.target_kl),
            ("ppo.ratio_threshold", p.ratio_threshold),
            ("ppo.score_clip", optional(p.score_clip)),
            ("ppo.adam_epsilon", p.adam_epsilon),
            ("ppo.missing_eos_penalty", optional(p.missing_eos_penalty)),
            (
                "policy.v_head_initializer_range",
                self.policy.v_head_initializer_range,
            ),
            ("generation.top_p", self.generation.top_p),
            ("generation.temperature", self.generation.temperature),
        ] {
            c.require(value.is_finite(), key, || {
                format!("must be a finite number, got {value}")
            });
        }
    }

    /// The `sft` and `reward_model` sections.
    fn check_supervised(&self, c: &mut Checks) {
        let (s, r) = (&self.sft, &self.reward_model);
        for (key, value) in [
            ("sft.n_embd", s.n_embd),
            ("sft.n_layer", s.n_layer),
            ("sft.n_head", s.n_head),
            ("sft.block_size", s.block_size),
            ("reward_model.hidden_size", r.hidden_size),
            ("reward_model.num_hidden_layers", r.num_hidden_layers),
            ("reward_model.num_attention_heads", r.num_attention_heads),
        ] {
            c.require(value > 0, key, || "must be at least 1".into());
        }
        for (key, size, heads) in [
            ("sft.n_embd", s.n_embd, s.n_head),
            (
                "reward_model.hidden_size",
                r.hidden_size,
                r.num_attention_heads,
            ),
        ] {
            c.require(heads == 0 || size.is_multiple_of(heads), key, || {
                format!("{size} is not a multiple of the number of heads ({heads})")
            });
        }
        c.require(r.max_length >= 3, "reward_model.max_length", || {
            format!(
                "must hold <s>, at least one token and </s> (>= 3), got {}",
                r.max_length
            )
        });
        check_training(c, "sft.training", &s.training);
        check_training(c, "reward_model.training", &r.training);
        let p = &r.pairwise;
        c.require(
            (1..=9).contains(&p.min_gap),
            "reward_model.pairwise.min_gap",
            || {
                format!(
                    "ratings are 1-10, so the gap must be in 1..=9, got {}",
                    p.min_gap
                )
            },
        );
        for (key, value) in [
            ("reward_model.pairwise.margin", p.margin),
            (
                "reward_model.pairwise.center_rewards_coefficient",
                p.center_rewards_coefficient,
            ),
        ] {
            c.require(value.is_finite() && value >= 0.0, key, || {
                format!("must be a finite number >= 0, got {value}")
            });
        }
    }
}

/// The loop settings of one supervised section (`prefix` = `sft.training`, ...).
fn check_training(c: &mut Checks, prefix: &str, t: &TrainingConfig) {
    let key = |name: &str| format!("{prefix}.{name}");
    for (name, value) in [("epochs", t.epochs), ("batch_size", t.batch_size)] {
        c.require(value > 0, &key(name), || "must be at least 1".into());
    }
    c.require(
        t.learning_rate.is_finite() && t.learning_rate > 0.0,
        &key("learning_rate"),
        || format!("must be a finite number > 0, got {}", t.learning_rate),
    );
    c.require(
        (0.0..=1.0).contains(&t.warmup_frac),
        &key("warmup_frac"),
        || format!("must be in [0, 1], got {}", t.warmup_frac),
    );
    c.require(
        t.weight_decay.is_finite() && t.weight_decay >= 0.0,
        &key("weight_decay"),
        || format!("must be a finite number >= 0, got {}", t.weight_decay),
    );
}
