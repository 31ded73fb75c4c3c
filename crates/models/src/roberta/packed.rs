//! Scoring batches with the rows packed end to end, so that a pass computes little padding.
//!
//! A right-padded batch pads every row to the longest: scoring sixteen texts of 20–26 tokens
//! multiplies an eighth padding through every projection of RoBERTa-large. Here the rows go
//! end to end into a few packs, each row (longest first) into the least filled pack, with as
//! many packs as make the pass cheapest: wider packs waste less padding at their ends, but
//! attention over a pack reads all of its keys. Each
//! position attends only to the positions of its own row (a block-diagonal mask), and positions
//! count from each row's start, so every row's states are those it has alone; the padding left
//! at a pack's end attends to itself. Attention then reads up to a pack's width of keys instead
//! of a row's, which costs little next to the projections at these widths.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::RobertaForSequenceClassification;
use super::model::first_tokens;
use crate::attention::AttentionMask;
use crate::weights::ids_tensor;

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
        let packs = (1..=rows.len())
            .map(|count| pack(&lengths, count))
            .min_by_key(|packs| cost(packs, hidden_size))
            .unwrap_or_default();
        let width = packs
            .iter()
            .map(|(_, filled)| *filled)
            .max()
            .unwrap_or(0)
            .max(1);
        let n = packs.len().max(1);
        let mut ids = vec![pad; n * width];
        let mut positions = vec![pad as i32; n * width];
        // Row of each position within its pack (a pack's padding: one past its last row).
        let mut segment = vec![usize::MAX; n * width];
        let slots = packs
            .iter()
            .map(|(members, _)| members.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut firsts = vec![0i32; n * slots];
        let mut row_slots = vec![0i32; rows.len()];
        for (p, (members, filled)) in packs.iter().enumerate() {
            let mut at = p * width;
            for (s, &r) in members.iter().enumerate() {
                firsts[p * slots + s] = at as i32;
                row_slots[r] = (p * slots + s) as i32;
                for (i, &id) in rows[r].as_ref().iter().enumerate() {
                    ids[at + i] = id;
                    positions[at + i] = pad as i32 + 1 + i as i32;
                    segment[at + i] = s;
                }
                at += rows[r].as_ref().len();
            }
            segment[p * width + filled..(p + 1) * width].fill(members.len());
        }
        let mut hidden = Vec::with_capacity(n * width * width);
        let mut first_hidden = Vec::with_capacity(n * slots * width);
        for (p, pack) in segment.chunks(width).enumerate() {
            for &query in pack {
                hidden.extend(pack.iter().map(|&key| key != query));
            }
            for s in 0..slots {
                // A spare slot repeats the pack's first row (never read).
                let (row, start) = (p * slots + s, p * slots);
                if s >= packs.get(p).map_or(0, |(members, _)| members.len()) {
                    firsts[row] = firsts[start];
                }
                let query = segment[firsts[row] as usize];
                first_hidden.extend(pack.iter().map(|&key| key != query));
            }
        }
        PackedBatch {
            input_ids: ids_tensor(&ids, n, width, device),
            position_ids: Tensor::from_data(TensorData::new(positions, [n, width]), device),
            hidden: Tensor::from_data(TensorData::new(hidden, [n, 1, width, width]), device),
            firsts: Tensor::from_data(TensorData::new(firsts, [n * slots]), device),
            first_hidden: Tensor::from_data(
                TensorData::new(first_hidden, [n, 1, slots, width]),
                device,
            ),
            slots: Tensor::from_data(TensorData::new(row_slots, [rows.len()]), device),
        }
    }
}

/// Rows of `lengths` in `count` packs: each row, longest first, into the least filled pack.
/// Each pack: its rows in order of placement and its filled width.
fn pack(lengths: &[usize], count: usize) -> Vec<(Vec<usize>, usize)> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&r| std::cmp::Reverse(lengths[r]));
    let mut packs: Vec<(Vec<usize>, usize)> = vec![(Vec::new(), 0); count];
    for r in order {
        if let Some((members, filled)) = packs.iter_mut().min_by_key(|(_, filled)| *filled) {
            members.push(r);
            *filled += lengths[r];
        }
    }
    packs
}

/// Multiply-adds per layer of a pass over `packs`, in units of `hidden_size`: each of
/// `packs · width` positions costs `12 · d` in the projections and `2 · width` in attention.
fn cost(packs: &[(Vec<usize>, usize)], hidden_size: usize) -> usize {
    let width = packs.iter().map(|(_, filled)| *filled).max().unwrap_or(0);
    packs.len() * width * (12 * hidden_size + 2 * width)
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
