//! Batching: left padding for generation and a shuffling prompt loader whose position can be
//! saved and restored, so a resumed run sees the same prompts as an uninterrupted one.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::DatasetError;

/// Sequences padded on the left to one length, row-major `[batch_size, seq_len]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftPadded {
    /// Token ids, `pad_id` in front of shorter sequences.
    pub input_ids: Vec<u32>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<u32>,
    /// Rows.
    pub batch_size: usize,
    /// Columns: the longest sequence's length.
    pub seq_len: usize,
}

impl LeftPadded {
    /// Ids and mask of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[u32]) {
        let span = i * self.seq_len..(i + 1) * self.seq_len;
        (&self.input_ids[span.clone()], &self.attention_mask[span])
    }
}

/// Pads `sequences` on the left with `pad_id` (GPT-2 generation pads left; its pad is EOS).
pub fn left_pad(sequences: &[&[u32]], pad_id: u32) -> LeftPadded {
    let seq_len = sequences.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut input_ids = Vec::with_capacity(sequences.len() * seq_len);
    let mut attention_mask = Vec::with_capacity(sequences.len() * seq_len);
    for sequence in sequences {
        let pad = seq_len - sequence.len();
        input_ids.extend(std::iter::repeat_n(pad_id, pad).chain(sequence.iter().copied()));
        attention_mask
            .extend(std::iter::repeat_n(0, pad).chain(std::iter::repeat_n(1, sequence.len())));
    }
    LeftPadded {
        input_ids,
        attention_mask,
        batch_size: sequences.len(),
        seq_len,
    }
}

/// Where a [`PromptLoader`] is: saved in checkpoints to resume at the same prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderState {
    /// Passes over the data completed.
    pub epoch: u64,
    /// Position in this epoch's permutation.
    pub cursor: usize,
}

/// Yields batches of prompt indices: a fresh seeded permutation each epoch, the last
/// incomplete batch dropped (as TRL's dataloader does).
#[derive(Debug, Clone)]
pub struct PromptLoader {
    len: usize,
    batch_size: usize,
    seed: u64,
    state: LoaderState,
    order: Vec<usize>,
}

impl PromptLoader {
    /// A loader at the start of epoch 0.
    pub fn new(len: usize, batch_size: usize, seed: u64) -> Result<Self, DatasetError> {
        Self::resume(len, batch_size, seed, LoaderState::default())
    }

    /// A loader at a saved position.
    pub fn resume(
        len: usize,
        batch_size: usize,
        seed: u64,
        state: LoaderState,
    ) -> Result<Self, DatasetError> {
        if batch_size == 0 || len < batch_size {
            return Err(DatasetError::Invalid(format!(
                "{len} prompts cannot fill one batch of {batch_size}; use more data or a smaller \
                 ppo.batch_size"
            )));
        }
        if state.cursor > len {
            return Err(DatasetError::Invalid(format!(
                "saved loader position {} is past the {len} prompts; the data changed since the \
                 checkpoint was written",
                state.cursor
            )));
        }
        let order = permutation(len, seed, state.epoch);
        Ok(PromptLoader {
            len,
            batch_size,
            seed,
            state,
            order,
        })
    }

    /// The position to save.
    pub fn state(&self) -> LoaderState {
        self.state
    }

    /// Full batches per pass over the data.
    pub fn batches_per_epoch(&self) -> usize {
        self.len / self.batch_size
    }

    /// The next batch of indices, starting a new epoch when too few remain.
    pub fn next_batch(&mut self) -> Vec<usize> {
        if self.state.cursor + self.batch_size > self.len {
            self.state = LoaderState {
                epoch: self.state.epoch + 1,
                cursor: 0,
            };
            self.order = permutation(self.len, self.seed, self.state.epoch);
        }
        let start = self.state.cursor;
        self.state.cursor += self.batch_size;
        self.order[start..self.state.cursor].to_vec()
    }
}

/// The permutation of `0..len` for one epoch, a pure function of `(seed, epoch)`.
pub fn permutation(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut rng = StdRng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_pad_pads_in_front_and_masks_the_padding() {
        let padded = left_pad(&[&[5, 6, 7], &[8]], 0);
        assert_eq!((padded.batch_size, padded.seq_len), (2, 3));
        assert_eq!(padded.row(0), (&[5, 6, 7][..], &[1, 1, 1][..]));
        assert_eq!(padded.row(1), (&[0, 0, 8][..], &[0, 0, 1][..]));
    }

    #[test]
    fn loader_covers_each_epoch_once_and_drops_the_remainder() {
        let mut loader = PromptLoader::new(10, 4, 3).unwrap();
        assert_eq!(loader.batches_per_epoch(), 2);
        let epoch0: Vec<usize> = [loader.next_batch(), loader.next_batch()].concat();
        let mut sorted = epoch0.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8, "no repeats within an epoch");
        let third = loader.next_batch();
        assert_eq!(
            loader.state(),
            LoaderState {
                epoch: 1,
                cursor: 4
            }
        );
        assert_ne!(third, epoch0[..4], "a new permutation in the next epoch");
    }

    #[test]
    fn loader_resumes_at_the_saved_position() {
        let mut full = PromptLoader::new(50, 8, 11).unwrap();
        let mut resumed = PromptLoader::new(50, 8, 11).unwrap();
        for _ in 0..8 {
            full.next_batch();
            resumed.next_batch();
        }
        let mut resumed = PromptLoader::resume(50, 8, 11, resumed.state()).unwrap();
        for _ in 0..10 {
            assert_eq!(resumed.next_batch(), full.next_batch());
        }
    }

    #[test]
    fn loader_rejects_too_little_data_and_foreign_positions() {
        assert!(PromptLoader::new(3, 4, 0).is_err());
        assert!(PromptLoader::new(3, 0, 0).is_err());
        let state = LoaderState {
            epoch: 0,
            cursor: 99,
        };
        assert!(PromptLoader::resume(10, 2, 0, state).is_err());
    }
}
