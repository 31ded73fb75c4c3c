//! Prompts as TRL's gpt2-sentiment example builds them (`build_dataset` in
//! `examples/scripts/ppo.py` @ v0.11.4): keep reviews longer than `min_text_chars` characters,
//! tokenize each with the policy tokenizer, keep the first `n` tokens with `n` drawn uniformly
//! from `[min, max)` (TRL's `LengthSampler`), and decode them back to the query text.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::{DatasetError, Review, Tokenizer};

/// Uniform lengths in `[min, max)`, like TRL's `LengthSampler(min, max)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthSampler {
    min: usize,
    max: usize,
}

impl LengthSampler {
    /// A sampler over `[min, max)`; needs `1 <= min < max`.
    pub fn new(min: usize, max: usize) -> Result<Self, DatasetError> {
        if min == 0 || min >= max {
            return Err(DatasetError::Invalid(format!(
                "length range [{min}, {max}) must be non-empty and start at 1 or more"
            )));
        }
        Ok(LengthSampler { min, max })
    }

    /// One length.
    pub fn sample(&self, rng: &mut impl RngExt) -> usize {
        rng.random_range(self.min..self.max)
    }
}

/// One prompt: the start of a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Index of the review in the loaded file.
    pub review: usize,
    /// The review's label (0 = negative, 1 = positive).
    pub label: i64,
    /// Policy token ids of the prompt (TRL `input_ids`).
    pub input_ids: Vec<u32>,
    /// The decoded prompt (TRL `query`).
    pub query: String,
}

/// Reviews processed per tokenizer call; also the granularity of progress reports.
const CHUNK: usize = 512;

/// Builds prompts from `reviews`. Lengths come from `StdRng::seed_from_u64(seed)`, one draw per
/// kept review in file order, so the same seed gives the same prompts. `progress` is called
/// with the number of reviews processed after each chunk.
pub fn build_prompts(
    reviews: &[Review],
    tokenizer: &Tokenizer,
    min_text_chars: usize,
    lengths: LengthSampler,
    seed: u64,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Prompt>, DatasetError> {
    let kept: Vec<usize> =
        (0..reviews.len()).filter(|&i| reviews[i].text.chars().count() > min_text_chars).collect();
    if kept.is_empty() {
        return Err(DatasetError::NothingLeft { rows: reviews.len(), min_chars: min_text_chars });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut prompts = Vec::with_capacity(kept.len());
    for chunk in kept.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|&i| reviews[i].text.as_str()).collect();
        let encoded = tokenizer.encode_batch(&texts, false)?;
        for (&review, mut ids) in chunk.iter().zip(encoded) {
            ids.truncate(lengths.sample(&mut rng));
            let query = tokenizer.decode(&ids, false)?;
            prompts.push(Prompt { review, label: reviews[review].label, input_ids: ids, query });
        }
        progress(chunk.len());
    }
    Ok(prompts)
}
