//! The PPO policy: GPT-2 with TRL's scalar value head (`AutoModelForCausalLMWithValueHead`).

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::ModelError;
use crate::gpt2::{Gpt2, Gpt2Config, Gpt2Input, IGNORED_GPT2_KEYS, KvCache};
use crate::hf_config::ModelFiles;
use crate::weights::WeightMap;

/// TRL's `ValueHead`: one linear map from the final hidden state to a scalar (`v_head.summary`).
/// TRL applies dropout before it; dropout is off in every RL forward here.
#[derive(Module, Debug)]
pub struct ValueHead {
    /// `[n_embd, 1]` projection.
    pub summary: Linear,
}

impl ValueHead {
    /// A fresh head per TRL's `v_head_init_strategy` (see [`ValueHeadInit`]).
    pub fn init(n_embd: usize, init: ValueHeadInit, device: &Device) -> Self {
        let config = LinearConfig::new(n_embd, 1);
        let config = match init {
            ValueHeadInit::Default => config,
            ValueHeadInit::Normal { std } => {
                config.with_initializer(Initializer::Normal { mean: 0.0, std })
            }
            ValueHeadInit::Zero => config.with_initializer(Initializer::Zeros),
        };
        let mut summary = config.init(device);
        if init != ValueHeadInit::Default {
            summary.bias = summary
                .bias
                .map(|b| Param::from_tensor(b.val().zeros_like()));
        }
        Self { summary }
    }

    /// Hidden states `[b, t, n_embd]` → values `[b, t]`.
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<2> {
        self.summary.forward(hidden).squeeze_dim::<2>(2)
    }
}

/// Output of the policy's forward pass.
#[derive(Debug, Clone)]
pub struct PolicyOutput {
    /// Next-token logits `[b, t, vocab]`.
    pub logits: Tensor<3>,
    /// Value estimates `[b, t]`.
    pub values: Tensor<2>,
}

/// GPT-2 LM with a value head, named like TRL's state dict (`transformer.*`, `v_head.*`).
#[derive(Module, Debug)]
pub struct Gpt2WithValueHead {
    /// The GPT-2 backbone with its tied LM head.
    pub transformer: Gpt2,
    /// Scalar value head.
    pub v_head: ValueHead,
}

/// How to build the value head when the checkpoint has none (TRL `v_head_init_strategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum ValueHeadInit {
    /// PyTorch's default `nn.Linear` init, uniform ±1/sqrt(n_embd) (TRL's `None`).
    #[default]
    Default,
    /// Normal(0, std) weight, zero bias (TRL's `"normal"`).
    Normal {
        /// TRL `v_head_initializer_range`.
        std: f64,
    },
    /// All zeros (OpenAI's lm-human-preferences).
    Zero,
}

/// Where a loaded policy's value head comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueHeadSource {
    /// The checkpoint's `v_head.summary.*` when it has one, else a fresh head (hub GPT-2s have
    /// none).
    OrInit(ValueHeadInit),
    /// The checkpoint's; an error when it has none (resuming a PPO run, whose value head was
    /// trained).
    Required,
}

impl From<ValueHeadInit> for ValueHeadSource {
    fn from(init: ValueHeadInit) -> Self {
        ValueHeadSource::OrInit(init)
    }
}

impl Gpt2WithValueHead {
    /// Loads a policy from a model directory or cached hub id. The value head is read from the
    /// checkpoint when present (`v_head.summary.*`, our own checkpoints and TRL's), else built
    /// as `value_head` says.
    pub fn load(
        files: &ModelFiles,
        value_head: impl Into<ValueHeadSource>,
        device: &Device,
    ) -> Result<(Self, Gpt2Config), ModelError> {
        let config = Gpt2Config::from_file(&files.config)?;
        let model = Self::load_weights(&config, &files.weights, value_head, device)?;
        Ok((model, config))
    }

    /// Loads from a weight file and an already parsed config.
    pub fn load_weights(
        config: &Gpt2Config,
        path: &Path,
        value_head: impl Into<ValueHeadSource>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let mut weights = WeightMap::read(path)?;
        weights.strip_prefix("transformer.");
        let transformer = Gpt2::from_weights(config, &mut weights, device)?;
        let v_head = if weights.contains("v_head.summary.weight") {
            let mut summary = LinearConfig::new(config.n_embd, 1).init(device);
            summary.weight =
                weights.linear_weight("v_head.summary.weight", config.n_embd, 1, device)?;
            summary.bias = Some(weights.param("v_head.summary.bias", [1], device)?);
            ValueHead { summary }
        } else {
            match value_head.into() {
                ValueHeadSource::OrInit(init) => ValueHead::init(config.n_embd, init, device),
                ValueHeadSource::Required => {
                    return Err(ModelError::MissingWeight {
                        key: "v_head.summary.weight".into(),
                        path: path.to_path_buf(),
                    });
                }
            }
        };
        weights.finish(&IGNORED_GPT2_KEYS)?;
        Ok(Self {
            transformer,
            v_head,
        })
    }

    /// A random policy (transformers' GPT-2 init) for pre-training and tests.
    pub fn init(config: &Gpt2Config, init: ValueHeadInit, device: &Device) -> Self {
        Self {
            transformer: Gpt2::init(config, device),
            v_head: ValueHead::init(config.n_embd, init, device),
        }
    }

    /// The same model with parameter ids numbered in visit order (see
    /// [`crate::weights::with_stable_param_ids`]).
    pub fn with_stable_param_ids(self) -> Self {
        crate::weights::with_stable_param_ids(self)
    }

    /// The device its weights are on.
    pub fn device(&self) -> Device {
        self.transformer.wte.weight.val().device()
    }

    /// Logits `[b, t, vocab]` and values `[b, t]`.
    pub fn forward(&self, input: Gpt2Input, cache: Option<&mut KvCache>) -> PolicyOutput {
        let hidden = self.transformer.forward(input, cache);
        PolicyOutput {
            values: self.v_head.forward(hidden.clone()),
            logits: self.transformer.logits(hidden),
        }
    }
}
