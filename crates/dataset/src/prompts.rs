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

/// Characters of each review encoded first; enough for the prompt in nearly every review.
const PREFIX_CHARS: usize = 256;

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
    let kept: Vec<usize> = (0..reviews.len())
        .filter(|&i| reviews[i].text.chars().count() > min_text_chars)
        .collect();
    if kept.is_empty() {
        return Err(DatasetError::NothingLeft {
            rows: reviews.len(),
            min_chars: min_text_chars,
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut prompts = Vec::with_capacity(kept.len());
    for chunk in kept.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|&i| reviews[i].text.as_str()).collect();
        let wanted: Vec<usize> = chunk.iter().map(|_| lengths.sample(&mut rng)).collect();
        for ((&review, ids), want) in chunk
            .iter()
            .zip(leading_ids(tokenizer, &texts, &wanted)?)
            .zip(wanted)
        {
            let ids = ids[..want.min(ids.len())].to_vec();
            let query = tokenizer.decode(&ids, false)?;
            prompts.push(Prompt {
                review,
                label: reviews[review].label,
                input_ids: ids,
                query,
            });
        }
        progress(chunk.len());
    }
    Ok(prompts)
}

/// For each text, at least its first `wanted` token ids (or all of them if it is shorter),
/// equal to the start of the full text's encoding.
///
/// The text's first [`PREFIX_CHARS`] characters are encoded first. The GPT-2 pre-tokenizer
/// splits text into words before BPE, and every word but the last one of the cut text ends
/// (with its one-character look-ahead) inside the cut, so its tokens equal the full text's.
/// Only when those tokens are too few is the whole text encoded.
fn leading_ids(
    tokenizer: &Tokenizer,
    texts: &[&str],
    wanted: &[usize],
) -> Result<Vec<Vec<u32>>, DatasetError> {
    let prefixes: Vec<&str> = texts
        .iter()
        .map(|t| {
            t.char_indices()
                .nth(PREFIX_CHARS)
                .map_or(*t, |(at, _)| &t[..at])
        })
        .collect();
    let encodings = tokenizer
        .inner()
        .encode_batch(prefixes.clone(), false)
        .map_err(|e| DatasetError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(texts.len());
    for ((encoding, (text, prefix)), &want) in encodings
        .iter()
        .zip(texts.iter().zip(&prefixes))
        .zip(wanted)
    {
        let ids = encoding.get_ids();
        if prefix.len() == text.len() {
            out.push(ids.to_vec());
            continue;
        }
        let words = encoding.get_word_ids();
        let last_word = words.iter().flatten().max().copied();
        let exact = words
            .iter()
            .take_while(|w| w.is_some() && *w != &last_word)
            .count();
        if exact >= want {
            out.push(ids[..exact].to_vec());
        } else {
            out.push(tokenizer.encode(text, false)?);
        }
    }
    Ok(out)
}
