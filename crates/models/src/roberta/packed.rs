//! Scoring batches with the rows packed end to end ([`Packing`]), so that a pass computes
//! little padding; the last layer computes only each row's `<s>`, the state the classifier
//! reads ([`Roberta::forward_at`](super::model::Roberta::forward_at)).

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::RobertaForSequenceClassification;
use super::model::first_tokens;
use crate::attention::AttentionMask;
use crate::packing::Packing;

/// Rows packed into `[packs, width]`, with what a forward pass needs.
#[derive(Debug, Clone)]
pub struct PackedBatch {
    /// `[packs, width]` token ids, `pad` after a pack's last row.
    pub input_ids: Tensor<2, Int>,
    /// `[packs, width]`: `pad + 1 + i` at a row's `i`-th token, `pad` on padding.
    pub position_ids: Tensor<2, Int>,
    /// `[packs, 1, width, width]`, true where the key belongs to another row than the query.
    pub hidden: Tensor<4, Bool>,
    /// `[packs · slots]`: each pack's query slots, its rows' first tokens in order of placement
    /// and then (a pack with fewer rows) its first row's again, as indices into the flattened
    /// `[packs · width]` positions. Only these positions are computed in the last layer.
    pub firsts: Tensor<1, Int>,
    /// `[packs, 1, slots, width]`, true where the key belongs to another row than the slot's.
    pub first_hidden: Tensor<4, Bool>,
    /// For each input row in order, its slot in the flattened `[packs · slots]`.
    pub slots: Tensor<1, Int>,
}

impl PackedBatch {
    /// Packs `rows` (special tokens included) for a model of width `hidden_size`, with `pad`
    /// at the end of each pack.
    pub fn new<R: AsRef<[u32]>>(rows: &[R], pad: u32, hidden_size: usize, device: &Device) -> Self {
        let lengths: Vec<usize> = rows.iter().map(|r| r.as_ref().len()).collect();
        let packing = Packing::new(&lengths, hidden_size);
        let width = packing.width;
        let slots = packing.packs.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut firsts = Vec::with_capacity(packing.pack_count() * slots);
        let mut queries = Vec::with_capacity(packing.pack_count());
        let mut row_slots = vec![0i32; rows.len()];
        for (p, members) in packing.packs.iter().enumerate() {
            let mut pack_queries = Vec::with_capacity(slots);
            for s in 0..slots {
                // A spare slot repeats the pack's first row (never read).
                let at = members
                    .get(s)
                    .or(members.first())
                    .map_or(p * width, |&r| packing.starts[r]);
                if let Some(&r) = members.get(s) {
                    row_slots[r] = (p * slots + s) as i32;
                }
                firsts.push(at as i32);
                pack_queries.push(at - p * width);
            }
            queries.push(pack_queries);
        }
        PackedBatch {
            input_ids: packing.ids(rows, pad, device),
            position_ids: packing.positions(pad as i32 + 1, device),
            hidden: packing.hidden(&packing.every_position(), false, device),
            firsts: Tensor::from_data(
                TensorData::new(firsts, [packing.pack_count() * slots]),
                device,
            ),
            first_hidden: packing.hidden(&queries, false, device),
            slots: Tensor::from_data(TensorData::new(row_slots, [rows.len()]), device),
        }
    }
}

impl RobertaForSequenceClassification {
    /// Class logits `[rows.len(), num_labels]` of token rows (special tokens included), scored
    /// packed ([`PackedBatch`]) in their order.
    pub fn classify_rows<R: AsRef<[u32]>>(
        &self,
        rows: &[R],
        pad: u32,
        device: &Device,
    ) -> Tensor<2> {
        let hidden_size = self.classifier.dense.weight.dims()[0];
        self.classify_packed(PackedBatch::new(rows, pad, hidden_size, device))
    }

    /// Class logits `[rows, num_labels]` of a packed batch, in the order of its rows.
    pub fn classify_packed(&self, batch: PackedBatch) -> Tensor<2> {
        let [n, width] = batch.input_ids.dims();
        let device = batch.input_ids.device();
        let mask = AttentionMask::from_hidden(
            batch.hidden,
            [n, self.roberta.n_head, width, width],
            &device,
        );
        let slots = batch.first_hidden.dims()[2];
        let first_mask = AttentionMask::from_hidden(
            batch.first_hidden,
            [n, self.roberta.n_head, slots, width],
            &device,
        );
        let states = self.roberta.forward_at(
            batch.input_ids,
            batch.position_ids,
            &mask,
            batch.firsts,
            &first_mask,
        );
        self.head(first_tokens(states, batch.slots))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::PackedBatch;
    use crate::roberta::{RobertaBatch, RobertaConfig, RobertaForSequenceClassification};

    /// Rows of many lengths (one longer than a pack, so two packs and a wider one) score as
    /// they do right-padded, in their own order.
    #[test]
    fn packed_rows_score_as_padded_rows() {
        let device = Device::flex();
        let config = RobertaConfig::sentiment(32, 2, 4, 300);
        let model = RobertaForSequenceClassification::init(&config, &device);
        let lengths = [5, 40, 3, 90, 17, 150, 60, 2, 30, 33, 31];
        let rows: Vec<Vec<u32>> = lengths
            .iter()
            .enumerate()
            .map(|(r, &n)| {
                let body = (1..n - 1).map(|i| (3 + (r * 131 + i * 17) % 5000) as u32);
                std::iter::once(0).chain(body).chain([2]).collect()
            })
            .collect();
        let packed = PackedBatch::new(&rows, 1, 32, &device);
        assert!(
            packed.input_ids.dims()[0] >= 2,
            "{:?}",
            packed.input_ids.dims()
        );
        let a: Vec<f32> = model.classify_packed(packed).into_data().iter().collect();
        let b: Vec<f32> = model
            .classify(RobertaBatch::right_padded(&rows, 1, &device))
            .into_data()
            .iter()
            .collect();
        assert_eq!(a.len(), 2 * rows.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }
}
