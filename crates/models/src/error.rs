//! Errors of model loading, saving and generation. Each names the file or key and the fix.

use std::path::PathBuf;

/// Everything that can go wrong between a model directory and a ready module.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The directory or hub id could not be resolved to a file.
    #[error(transparent)]
    Hub(#[from] dataset::HubError),
    /// Neither weight format is present.
    #[error(
        "`{spec}` has neither `model.safetensors` nor `pytorch_model.bin` ({details}); point \
         --model at a Hugging Face model directory or a cached hub id"
    )]
    NoWeights {
        /// Directory or hub id as given.
        spec: String,
        /// Why each candidate failed.
        details: String,
    },
    /// `config.json` is missing, unreadable or malformed.
    #[error("cannot read model config `{}`: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The checkpoint is of another architecture than the one asked for.
    #[error(
        "`{}` describes a `{found}` model, but a `{expected}` model is needed here; pass a \
         {expected} checkpoint",
        path.display()
    )]
    WrongArchitecture {
        /// The config file.
        path: PathBuf,
        /// `model_type` wanted.
        expected: &'static str,
        /// `model_type` found.
        found: String,
    },
    /// The checkpoint is a model of a known family, but not a sequence classifier.
    #[error(
        "`{}` describes a `{architecture}`, not a sequence classifier; a reward model must be one \
         of {}",
        path.display(),
        crate::classifier::SUPPORTED
    )]
    NotAClassifier {
        /// The config file.
        path: PathBuf,
        /// `architectures[0]` found.
        architecture: String,
    },
    /// A text gave no token, and the architecture reads its score from the last token.
    #[error(
        "text {index} of the batch has no token after tokenization; a {architecture} reward model \
         reads its score at the last token, so the text must not be empty"
    )]
    EmptyText {
        /// Index of the text in its batch.
        index: usize,
        /// The architecture.
        architecture: &'static str,
    },
    /// The weight file could not be parsed (truncated, corrupt, not a checkpoint).
    #[error("cannot read weights `{}`: {message}; the file may be truncated or corrupt, download it again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        message: String,
    },
    /// A tensor the architecture needs is not in the file.
    #[error("weight `{key}` is missing from `{}`; the checkpoint does not match its config.json", path.display())]
    MissingWeight {
        /// Key (without the `transformer.`/`roberta.` prefix).
        key: String,
        /// The file.
        path: PathBuf,
    },
    /// A tensor has another shape than the config implies.
    #[error(
        "weight `{key}` in `{}` has shape {found:?}, expected {expected:?} from config.json",
        path.display()
    )]
    ShapeMismatch {
        /// Key.
        key: String,
        /// The file.
        path: PathBuf,
        /// Shape the config implies.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// Tensors in the file that the architecture does not use.
    #[error(
        "`{}` has {} weight(s) this architecture does not use, e.g. `{}`; is it a checkpoint of \
         another model?",
        path.display(), keys.len(), keys.first().map(String::as_str).unwrap_or("")
    )]
    UnexpectedWeights {
        /// The unused keys.
        keys: Vec<String>,
        /// The file.
        path: PathBuf,
    },
    /// Writing a checkpoint or export failed.
    #[error("cannot write `{}`: {message}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The tokenizer produces ids the model has no embedding for.
    #[error(
        "`{}` has {tokens} tokens but the model (`{}`) has vocab_size {vocab_size}; use the \
         model's own tokenizer",
        tokenizer.display(), config.display()
    )]
    TokenizerMismatch {
        /// The tokenizer file.
        tokenizer: PathBuf,
        /// Its vocabulary size, added tokens included.
        tokens: usize,
        /// The model's config.json.
        config: PathBuf,
        /// The model's vocabulary size.
        vocab_size: usize,
    },
    /// The model's tokenizer could not encode a text.
    #[error("the reward model's tokenizer cannot encode a text")]
    Tokenize {
        /// The tokenizer's error.
        #[source]
        source: dataset::DatasetError,
    },
    /// Bad generation input (empty batch, no room for new tokens, ...).
    #[error("invalid generation request: {0}")]
    Generation(String),
    /// The compute device failed to produce a result the host reads.
    #[error(
        "the compute device failed while {what}; on a GPU or a software Vulkan driver this is \
         usually a tensor larger than the device allows or device memory running out: try a \
         smaller batch or model, or another --device"
    )]
    Device {
        /// What was being computed.
        what: &'static str,
        /// burn's error.
        #[source]
        source: Box<burn::tensor::ExecutionError>,
    },
}

impl ModelError {
    /// A [`ModelError::Device`] for `what`.
    pub fn device(what: &'static str) -> impl FnOnce(burn::tensor::ExecutionError) -> Self {
        move |source| ModelError::Device {
            what,
            source: Box::new(source),
        }
    }
}
