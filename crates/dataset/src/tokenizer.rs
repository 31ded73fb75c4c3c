//! `tokenizer.json` loading for the policy (GPT-2 byte-level BPE) and the reward model
//! (RoBERTa BPE), from a file, a model directory, or a hub id.

use std::path::{Path, PathBuf};

use crate::DatasetError;
use crate::hub::{HubOptions, RepoKind, resolve_file};

/// The file name transformers and tokenizers use.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// A loaded tokenizer and where it came from.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    source: PathBuf,
}

impl Tokenizer {
    /// Loads a `tokenizer.json` file.
    pub fn from_file(path: &Path) -> Result<Self, DatasetError> {
        let fail = |message: String| DatasetError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        if path.is_dir() {
            return Err(fail(
                "this is a directory; pass the tokenizer.json inside it".into(),
            ));
        }
        if !path.is_file() {
            return Err(fail("no such file".into()));
        }
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| fail(e.to_string()))?;
        Ok(Tokenizer {
            inner,
            source: path.to_path_buf(),
        })
    }

    /// Loads from a `tokenizer.json` path, a directory holding one, or a model's hub id.
    pub fn from_spec(spec: &str, revision: &str, hub: &HubOptions) -> Result<Self, DatasetError> {
        let path = Path::new(spec);
        if path.is_file() {
            return Self::from_file(path);
        }
        let file = resolve_file(spec, RepoKind::Model, revision, TOKENIZER_FILE, hub)?;
        Self::from_file(&file)
    }

    /// The file this tokenizer was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Token ids of `text`; `add_special_tokens` adds e.g. RoBERTa's `<s>`/`</s>`
    /// (GPT-2 adds nothing either way).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, DatasetError> {
        self.inner
            .encode(text, add_special_tokens)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| DatasetError::Encode(e.to_string()))
    }

    /// Token ids of many texts, encoded in parallel.
    pub fn encode_batch(
        &self,
        texts: &[&str],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<u32>>, DatasetError> {
        let encodings = self
            .inner
            .encode_batch(texts.to_vec(), add_special_tokens)
            .map_err(|e| DatasetError::Encode(e.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Text of `ids`; `skip_special_tokens` drops e.g. `<|endoftext|>`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, DatasetError> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| DatasetError::Encode(e.to_string()))
    }

    /// The id of a token such as `<|endoftext|>`, if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The underlying `tokenizers` object.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}
