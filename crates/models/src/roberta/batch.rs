//! Right-padded RoBERTa input batches: ids, positions and attention mask built once here for
//! every caller (reward scoring, classifier training and evaluation).

use burn::tensor::{Device, Int, Tensor};

use super::RobertaForSequenceClassification;
use super::model::roberta_position_ids;
use crate::weights::ids_tensor;

/// Token rows padded on the right to the longest row, with RoBERTa's positions.
#[derive(Debug, Clone)]
pub struct RobertaBatch {
    /// `[b, t]` token ids, `pad` after each row's end.
    pub input_ids: Tensor<2, Int>,
    /// `[b, t]` positions: `pad + 1 + i` on tokens, `pad` on padding (transformers'
    /// `create_position_ids_from_input_ids`).
    pub position_ids: Tensor<2, Int>,
    /// `[b, t]`, 1 on tokens and 0 on padding.
    pub attention_mask: Tensor<2, Int>,
}

impl RobertaBatch {
    /// Pads `rows` (special tokens included) with `pad` to the longest row (at least 1 wide).
    pub fn right_padded<R: AsRef<[u32]>>(rows: &[R], pad: u32, device: &Device) -> Self {
        let b = rows.len();
        let t = rows
            .iter()
            .map(|r| r.as_ref().len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = Vec::with_capacity(b * t);
        let mut mask = Vec::with_capacity(b * t);
        for row in rows {
            let row = row.as_ref();
            let padding = t - row.len();
            ids.extend(row.iter().copied().chain(std::iter::repeat_n(pad, padding)));
            mask.extend(
                std::iter::repeat_n(1u32, row.len()).chain(std::iter::repeat_n(0, padding)),
            );
        }
        RobertaBatch {
            position_ids: roberta_position_ids(&ids, b, t, pad, device),
            input_ids: ids_tensor(&ids, b, t, device),
            attention_mask: ids_tensor(&mask, b, t, device),
        }
    }
}

impl RobertaForSequenceClassification {
    /// Class logits `[b, num_labels]` of a padded batch.
    pub fn classify(&self, batch: RobertaBatch) -> Tensor<2> {
        self.forward(batch.input_ids, batch.position_ids, batch.attention_mask)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::RobertaBatch;

    #[test]
    fn rows_are_right_padded_with_positions_after_the_pad_id() {
        let device = Device::flex();
        let rows = [vec![0u32, 5, 2], vec![0, 2]];
        let batch = RobertaBatch::right_padded(&rows, 1, &device);
        let ints = |t: burn::tensor::Tensor<2, burn::tensor::Int>| -> Vec<i64> {
            t.into_data().iter::<i64>().collect()
        };
        assert_eq!(ints(batch.input_ids), [0, 5, 2, 0, 2, 1]);
        assert_eq!(ints(batch.position_ids), [2, 3, 4, 2, 3, 1]);
        assert_eq!(ints(batch.attention_mask), [1, 1, 1, 1, 1, 0]);
    }
}
