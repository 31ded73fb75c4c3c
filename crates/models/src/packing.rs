//! Rows of tokens packed end to end into a few equal-width packs, so that a pass computes
//! little padding.
//!
//! A padded batch pads every row to the longest: sixteen rows of 20–26 tokens multiply an
//! eighth padding through every projection. Here each row, longest first, goes into the least
//! filled pack, with as many packs as make the pass cheapest: wider packs waste less padding
//! at their ends, but attention over a pack reads all of its keys. Each position attends only
//! to the positions of its own row (a block-diagonal mask, causal for a language model) and
//! positions count from each row's start, so every row's states are those it has alone; the
//! padding left at a pack's end attends to itself.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::weights::ids_tensor;

/// Where each row of a batch goes in `[packs, width]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packing {
    /// Width of every pack (its longest filling, at least 1).
    pub width: usize,
    /// The rows of each pack, in order of placement (at least one pack).
    pub packs: Vec<Vec<usize>>,
    /// Index of each row's first token in the flattened `[packs · width]` positions.
    pub starts: Vec<usize>,
    /// Length of each row.
    pub lengths: Vec<usize>,
}

impl Packing {
    /// The cheapest packing of rows of `lengths` for a model of width `hidden_size`.
    pub fn new(lengths: &[usize], hidden_size: usize) -> Self {
        let packs = (1..=lengths.len())
            .map(|count| pack(lengths, count))
            .min_by_key(|packs| cost(packs, hidden_size))
            .unwrap_or_default();
        let width = packs
            .iter()
            .map(|(_, filled)| *filled)
            .max()
            .unwrap_or(0)
            .max(1);
        let mut starts = vec![0; lengths.len()];
        for (p, (members, _)) in packs.iter().enumerate() {
            let mut at = p * width;
            for &r in members {
                starts[r] = at;
                at += lengths[r];
            }
        }
        let mut packs: Vec<Vec<usize>> = packs.into_iter().map(|(members, _)| members).collect();
        if packs.is_empty() {
            packs.push(Vec::new());
        }
        Packing {
            width,
            packs,
            starts,
            lengths: lengths.to_vec(),
        }
    }

    /// Number of packs (at least 1).
    pub fn pack_count(&self) -> usize {
        self.packs.len()
    }

    /// The rows' values laid out `[packs, width]` row-major, `fill` on padding.
    pub fn lay_out<T: Copy, R: AsRef<[T]>>(&self, rows: &[R], fill: T) -> Vec<T> {
        let mut out = vec![fill; self.pack_count() * self.width];
        for (row, &start) in rows.iter().zip(&self.starts) {
            let row = row.as_ref();
            out[start..start + row.len()].copy_from_slice(row);
        }
        out
    }

    /// Token ids `[packs, width]` of `rows` (of the packed lengths), `pad` on padding.
    pub fn ids<R: AsRef<[u32]>>(&self, rows: &[R], pad: u32, device: &Device) -> Tensor<2, Int> {
        ids_tensor(
            &self.lay_out(rows, pad),
            self.pack_count(),
            self.width,
            device,
        )
    }

    /// Position ids `[packs, width]`: `first + i` at a row's `i`-th token, `first - 1` (at
    /// least 0) on padding.
    pub fn positions(&self, first: i32, device: &Device) -> Tensor<2, Int> {
        let rows: Vec<Vec<i32>> = self
            .lengths
            .iter()
            .map(|&n| (0..n as i32).map(|i| first + i).collect())
            .collect();
        let values = self.lay_out(&rows, (first - 1).max(0));
        Tensor::from_data(
            TensorData::new(values, [self.pack_count(), self.width]),
            device,
        )
    }

    /// Row of each position within its pack, `[packs · width]`; a pack's padding is one past
    /// its last row.
    fn segments(&self) -> Vec<usize> {
        let mut segment = Vec::with_capacity(self.pack_count() * self.width);
        for (p, members) in self.packs.iter().enumerate() {
            for (s, &r) in members.iter().enumerate() {
                segment.extend(std::iter::repeat_n(s, self.lengths[r]));
            }
            segment.resize((p + 1) * self.width, members.len());
        }
        segment
    }

    /// `[packs, 1, queries, width]`, true where the key is hidden from the query: it belongs
    /// to another row, or (`causal`) comes after the query. `queries` are positions within
    /// each pack, `[packs][queries]` (all of them: [`Packing::every_position`]).
    pub fn hidden(&self, queries: &[Vec<usize>], causal: bool, device: &Device) -> Tensor<4, Bool> {
        let segment = self.segments();
        let count = queries.first().map_or(0, Vec::len);
        let mut hidden = Vec::with_capacity(self.pack_count() * count * self.width);
        for (pack, queries) in segment.chunks(self.width).zip(queries) {
            for &i in queries {
                hidden.extend((0..self.width).map(|j| pack[j] != pack[i] || (causal && j > i)));
            }
        }
        Tensor::from_data(
            TensorData::new(hidden, [self.pack_count(), 1, count, self.width]),
            device,
        )
    }

    /// Every position of every pack, as [`Packing::hidden`] takes queries.
    pub fn every_position(&self) -> Vec<Vec<usize>> {
        vec![(0..self.width).collect(); self.pack_count()]
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

#[cfg(test)]
mod tests {
    use super::Packing;

    #[test]
    fn rows_fill_packs_without_overlap() {
        let lengths = [5, 40, 3, 90, 17, 150, 60, 2, 30, 33, 31];
        let packing = Packing::new(&lengths, 32);
        assert!(packing.pack_count() >= 2);
        let mut owner = vec![None; packing.pack_count() * packing.width];
        for (r, (&start, &n)) in packing.starts.iter().zip(&lengths).enumerate() {
            assert_eq!(
                start / packing.width,
                (start + n - 1) / packing.width,
                "row {r} splits"
            );
            for slot in &mut owner[start..start + n] {
                assert!(slot.replace(r).is_none(), "row {r} overlaps");
            }
        }
        let laid = packing.lay_out(&[vec![7u32; 5], vec![8; 40], vec![9; 3]], 0);
        assert_eq!(laid[packing.starts[2]..packing.starts[2] + 3], [9, 9, 9]);
    }

    #[test]
    fn no_rows_make_one_empty_pack() {
        let packing = Packing::new(&[], 32);
        assert_eq!((packing.pack_count(), packing.width), (1, 1));
        assert!(packing.starts.is_empty());
    }
}
