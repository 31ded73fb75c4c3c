//! `GPT2ForSequenceClassification`: GPT-2 with a bias-free `score` layer read at each row's last
//! token (OpenAI's lm-human-preferences reward models are of this shape).

use std::path::Path;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::Gpt2ClassifierConfig;
use crate::ModelError;
use crate::gpt2::{Gpt2, Gpt2Input, IGNORED_GPT2_KEYS};
use crate::weights::{WeightMap, ids_tensor};

/// GPT-2 backbone and the `score` head.
#[derive(Module, Debug)]
pub struct Gpt2ForSequenceClassification {
    /// `transformer.*`.
    pub transformer: Gpt2,
    /// `score` `[n_embd, num_labels]`, no bias.
    pub score: Linear,
}

/// Index of the token each right-padded row is scored at, as transformers 4.46 computes it: one
/// before the first `pad` in the padded row (wrapping to the last column when the row has none).
/// Without a pad id, each row's own last token (transformers' rule for a batch of one).
pub(crate) fn score_positions(
    padded: &[u32],
    lengths: &[usize],
    t: usize,
    pad: Option<u32>,
) -> Vec<usize> {
    padded
        .chunks(t.max(1))
        .zip(lengths)
        .map(|(row, &len)| match pad {
            Some(pad) => {
                let first = row.iter().position(|&id| id == pad).unwrap_or(0);
                (first + t - 1) % t
            }
            None => len.saturating_sub(1),
        })
        .collect()
}

impl Gpt2ForSequenceClassification {
    /// Class logits `[b, num_labels]` for right-padded token rows (no special tokens are added:
    /// GPT-2's tokenizer has none). Padding is masked; positions run `0..t` as in transformers.
    pub fn classify(
        &self,
        rows: &[Vec<u32>],
        pad: Option<u32>,
        device: &Device,
    ) -> Result<Tensor<2>, ModelError> {
        if let Some(index) = rows.iter().position(Vec::is_empty) {
            return Err(ModelError::EmptyText {
                index,
                architecture: "GPT2ForSequenceClassification",
            });
        }
        let padded = super::RightPadded::new(rows, pad.unwrap_or(0));
        let (b, t) = (padded.b, padded.t);
        let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
        let at: Vec<i32> = score_positions(&padded.ids, &lengths, t, pad)
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i * t + p) as i32)
            .collect();
        let input = Gpt2Input {
            input_ids: ids_tensor(&padded.ids, b, t, device),
            position_ids: padded.positions(device),
            attention_mask: Some(ids_tensor(&padded.mask, b, t, device)),
        };
        let hidden = self.transformer.forward(input, None);
        let d = hidden.dims()[2];
        let at: Tensor<1, Int> = Tensor::from_data(TensorData::new(at, [b]), device);
        let last = hidden.reshape([b * t, d]).select(0, at);
        Ok(self.score.forward(last))
    }

    /// Loads `transformer.*` and `score.weight` from a weight file.
    pub fn load_weights(
        config: &Gpt2ClassifierConfig,
        num_labels: usize,
        path: &Path,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let mut w = WeightMap::read(path)?;
        let score = Linear {
            weight: w.linear_weight("score.weight", config.gpt2.n_embd, num_labels, device)?,
            bias: None,
        };
        w.strip_prefix("transformer.");
        let transformer = Gpt2::from_weights(&config.gpt2, &mut w, device)?;
        w.finish(&IGNORED_GPT2_KEYS)?;
        Ok(Self { transformer, score })
    }
}

#[cfg(test)]
mod tests {
    use super::score_positions;

    #[test]
    fn rows_are_scored_before_their_first_pad() {
        // Row 0 ends at column 1; row 1 fills the width; row 2 has a pad id inside its text,
        // where transformers (and so we) stop.
        let padded = [5, 6, 9, 9, 1, 2, 3, 4, 7, 9, 8, 9];
        assert_eq!(score_positions(&padded, &[2, 4, 3], 4, Some(9)), [1, 3, 0]);
        assert_eq!(score_positions(&padded, &[2, 4, 3], 4, None), [1, 3, 2]);
    }
}
