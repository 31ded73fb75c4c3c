//! A [`SequenceBatch`] packed end to end for one forward pass ([`Packing`]), and where its
//! response window lies in the packs.
//!
//! A padded batch pads each query on the left to the longest query and each response on the
//! right to the longest response: at TRL's prompt lengths (2–8 tokens) and 16 new tokens, a
//! tenth to a seventh of every product is padding. Packed, a row is its query and response
//! tokens only, attending causally within itself, at positions counted from its start: the
//! states of its tokens are those of the padded pass (positions `cumsum(mask) - 1`, padding
//! hidden).

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use models::packing::Packing;

use crate::forward::SequenceBatch;

/// The packed rows of a [`SequenceBatch`] and the positions of its response window.
#[derive(Debug, Clone)]
pub struct PackedWindow {
    /// `[packs, width]` token ids (0 on padding).
    pub input_ids: Tensor<2, Int>,
    /// `[packs, width]`: `i` at a row's `i`-th token.
    pub position_ids: Tensor<2, Int>,
    /// `[packs, 1, width, width]`, true where the key is another row's or comes after the
    /// query.
    pub hidden: Tensor<4, Bool>,
    /// `[b · r]`: for response column `j` of row `i`, the flattened `[packs · width]` index
    /// of the state that predicts it (the token before it). Columns past a row's response
    /// read its last token (masked out by the response mask).
    pub window: Tensor<1, Int>,
}

impl PackedWindow {
    /// Packs `batch` for a model of width `hidden_size`.
    pub fn new(batch: &SequenceBatch, hidden_size: usize, device: &Device) -> Self {
        let (q, r) = (batch.q, batch.r);
        let t = q + r;
        let rows: Vec<&[u32]> = (0..batch.b)
            .map(|i| {
                let mask = &batch.attention_mask[i * t..(i + 1) * t];
                let from = mask.iter().position(|&m| m != 0).unwrap_or(q);
                let to = t - mask.iter().rev().position(|&m| m != 0).unwrap_or(r);
                &batch.input_ids[i * t + from..i * t + to.max(from)]
            })
            .collect();
        let lengths: Vec<usize> = rows.iter().map(|row| row.len()).collect();
        let packing = Packing::new(&lengths, hidden_size);
        let mut window = Vec::with_capacity(batch.b * r);
        for (i, &start) in packing.starts.iter().enumerate() {
            let mask = &batch.attention_mask[i * t..(i + 1) * t];
            let query = mask[..q].iter().filter(|&&m| m != 0).count();
            let response = mask[q..].iter().filter(|&&m| m != 0).count();
            // The token before response token j; from j = response on, the row's last token.
            window
                .extend((0..r).map(|j| (start + query + j.min(response)).saturating_sub(1) as i32));
        }
        PackedWindow {
            // Padding attends only to itself and is never read: any id will do.
            input_ids: packing.ids(&rows, 0, device),
            position_ids: packing.positions(0, device),
            hidden: packing.hidden(&packing.every_position(), true, device),
            window: Tensor::from_data(TensorData::new(window, [batch.b * r]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use burn::tensor::{Device, s};
    use models::gpt2::position_ids;
    use models::weights::ids_tensor;
    use models::{Gpt2Config, Gpt2Input, Gpt2WithValueHead, ValueHeadInit};

    use super::PackedWindow;
    use crate::forward::{SequenceBatch, WindowOptions, forward_window};

    /// Log-probs and values of the packed pass equal those of the padded batch at every
    /// response token (queries of 1–9 tokens, responses of 1–6, two packs or more).
    #[test]
    fn packed_window_equals_the_padded_pass() {
        let device = Device::flex();
        device.seed(3);
        let config = Gpt2Config::tiny(97);
        let model = Gpt2WithValueHead::init(&config, ValueHeadInit::Default, &device);
        let token = |i: usize| (3 + (i * 37) % 90) as u32;
        let queries: Vec<Vec<u32>> = [9, 1, 4, 7, 2, 9, 3]
            .iter()
            .enumerate()
            .map(|(r, &n)| (0..n).map(|i| token(r * 11 + i)).collect())
            .collect();
        let responses: Vec<Vec<u32>> = [6, 6, 1, 3, 6, 2, 5]
            .iter()
            .enumerate()
            .map(|(r, &n)| (0..n).map(|i| token(r * 5 + i + 40)).collect())
            .collect();
        let batch = SequenceBatch::new(&queries, &responses, 0);
        let packs = PackedWindow::new(&batch, 16, &device).input_ids.dims()[0];
        assert!(packs >= 2, "{packs} pack(s)");
        let packed = forward_window(&model, &batch, WindowOptions::PLAIN, &device);

        let (b, q, r) = (batch.b, batch.q, batch.r);
        let input = Gpt2Input {
            input_ids: ids_tensor(&batch.input_ids, b, q + r, &device),
            position_ids: position_ids(&batch.attention_mask, b, q + r, &vec![0; b], &device),
            attention_mask: Some(ids_tensor(&batch.attention_mask, b, q + r, &device)),
        };
        let hidden = model.transformer.forward(input, None);
        let window = hidden.slice(s![.., (q - 1)..(q - 1 + r), ..]);
        let values = model.v_head.forward(window.clone());
        let log_dist = models::fused::log_softmax(model.transformer.logits(window));
        let ids = ids_tensor(&batch.response_ids, b, r, &device);
        let logprobs = log_dist.gather(2, ids.unsqueeze_dim(2)).squeeze_dim::<2>(2);

        let host = |x: burn::tensor::Tensor<2>| x.into_data().iter::<f32>().collect::<Vec<_>>();
        let pairs = [
            (host(packed.logprobs), host(logprobs)),
            (host(packed.values), host(values)),
        ];
        for (ours, padded) in pairs {
            for (k, &m) in batch.response_mask.iter().enumerate() {
                if m > 0.0 {
                    assert!(
                        (ours[k] - padded[k]).abs() < 1e-4,
                        "{k}: {} vs {}",
                        ours[k],
                        padded[k]
                    );
                }
            }
        }
    }
}
