//! RoBERTa modules (the post-norm BERT encoder, shared with BERT and DistilBERT) and the
//! sequence-classification head.

use burn::module::Module;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Int, Tensor, TensorData, s};

use crate::attention::AttentionMask;
use crate::fused::gelu;
use crate::precision::linear;

/// Word, position and token-type embeddings, summed and normalised.
#[derive(Module, Debug)]
pub struct Embeddings {
    /// `[vocab, hidden]`.
    pub word_embeddings: Embedding,
    /// `[max_position_embeddings, hidden]`.
    pub position_embeddings: Embedding,
    /// `[type_vocab_size, hidden]`; only type 0 is used. DistilBERT has none.
    pub token_type_embeddings: Option<Embedding>,
    /// Norm after the sum (`LayerNorm` in HF).
    pub layer_norm: LayerNorm,
}

/// Bidirectional multi-head self-attention with the output projection and post-norm.
#[derive(Module, Debug)]
pub struct SelfAttention {
    /// Query projection.
    pub query: Linear,
    /// Key projection.
    pub key: Linear,
    /// Value projection.
    pub value: Linear,
    /// `attention.output.dense`.
    pub output_dense: Linear,
    /// `attention.output.LayerNorm`.
    pub output_norm: LayerNorm,
    /// Heads.
    pub n_head: usize,
}

impl SelfAttention {
    /// `x` `[b, t, d]` → `[b, t, d]` under `mask` (padding keys hidden).
    pub fn forward(&self, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        self.forward_at(x.clone(), x, mask)
    }

    /// Queries from `x_q` `[b, s, d]` over the keys and values of `x` `[b, t, d]` under `mask`
    /// (`[b, n_head, s, t]`) → `[b, s, d]`, the residual taken from `x_q`. With `x_q = x` this is
    /// [`SelfAttention::forward`]; with fewer rows it is that pass at those positions only.
    pub fn forward_at(&self, x_q: Tensor<3>, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let s = x_q.dims()[1];
        let hd = d / self.n_head;
        let heads = |y: Tensor<3>, len: usize| y.reshape([b, len, self.n_head, hd]).swap_dims(1, 2);
        let q = heads(linear(&self.query, x_q.clone()), s);
        let k = heads(linear(&self.key, x.clone()), t);
        let v = heads(linear(&self.value, x), t);
        let context = mask.attend(q, k, v);
        let context = context.swap_dims(1, 2).reshape([b, s, d]);
        self.output_norm
            .forward(linear(&self.output_dense, context) + x_q)
    }
}

/// One encoder layer: attention, then `intermediate.dense → gelu → output.dense`, post-norm.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Self-attention block.
    pub attention: SelfAttention,
    /// `intermediate.dense`.
    pub intermediate: Linear,
    /// `output.dense`.
    pub output: Linear,
    /// `output.LayerNorm`.
    pub output_norm: LayerNorm,
}

impl EncoderLayer {
    /// `[b, t, d]` → `[b, t, d]`.
    pub fn forward(&self, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        self.forward_at(x.clone(), x, mask)
    }

    /// The layer's output `[b, s, d]` at the positions `x_q` `[b, s, d]` only, attending over
    /// all of `x` `[b, t, d]` (see [`SelfAttention::forward_at`]).
    pub fn forward_at(&self, x_q: Tensor<3>, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        let x = self.attention.forward_at(x_q, x, mask);
        let h = linear(&self.output, gelu(linear(&self.intermediate, x.clone())));
        self.output_norm.forward(h + x)
    }
}

/// RoBERTa encoder (no pooler: the classifier has its own dense layer).
#[derive(Module, Debug)]
pub struct Roberta {
    /// Embeddings.
    pub embeddings: Embeddings,
    /// Encoder layers.
    pub layer: Vec<EncoderLayer>,
    /// Heads per layer.
    pub n_head: usize,
}

impl Roberta {
    /// Last hidden states `[b, t, d]` for ids `[b, t]`, positions `[b, t]` (see
    /// [`roberta_position_ids`]; `0..t` for BERT) and a `[b, t]` mask (1 = token, 0 = pad).
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
    ) -> Tensor<3> {
        let [b, t] = input_ids.dims();
        let device = input_ids.device();
        let padding = attention_mask.equal_elem(0);
        let mask = AttentionMask::new(Some(padding), false, [b, self.n_head, t, t], &device);
        self.forward_masked(input_ids, position_ids, &mask)
    }

    /// [`Roberta::forward`] under a given mask (e.g. a packed batch's, `packed.rs`).
    pub fn forward_masked(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        mask: &AttentionMask,
    ) -> Tensor<3> {
        let x = self.embed(input_ids, position_ids);
        self.layer.iter().fold(x, |x, layer| layer.forward(x, mask))
    }

    /// The normalised embeddings `[n, t, d]` of ids and positions `[n, t]`.
    fn embed(&self, input_ids: Tensor<2, Int>, position_ids: Tensor<2, Int>) -> Tensor<3> {
        let e = &self.embeddings;
        let token_types = e
            .token_type_embeddings
            .as_ref()
            .map(|table| table.forward(input_ids.zeros_like()));
        let x = e.word_embeddings.forward(input_ids) + e.position_embeddings.forward(position_ids);
        let x = match token_types {
            Some(types) => x + types,
            None => x,
        };
        e.layer_norm.forward(x)
    }

    /// The last hidden states `[n, s, d]` at `queries` `[n · s]` (indices into the flattened
    /// `[n · t]` positions) of ids and positions `[n, t]`. Every layer but the last runs at all
    /// positions under `mask`; the last needs keys and values everywhere but its queries,
    /// attention output and feed-forward only at `queries`, under `query_mask`
    /// (`[n, n_head, s, t]`). A classifier that reads one token per row skips 5/6 of that
    /// layer's products (RoBERTa-large: 1/29 of a pass).
    pub fn forward_at(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        mask: &AttentionMask,
        queries: Tensor<1, Int>,
        query_mask: &AttentionMask,
    ) -> Tensor<3> {
        let [n, t] = input_ids.dims();
        let s = queries.dims()[0] / n.max(1);
        let at_queries = |x: Tensor<3>| {
            let d = x.dims()[2];
            x.reshape([n * t, d]).select(0, queries).reshape([n, s, d])
        };
        let x = self.embed(input_ids, position_ids);
        let Some((last, body)) = self.layer.split_last() else {
            return at_queries(x);
        };
        let x = body.iter().fold(x, |x, layer| layer.forward(x, mask));
        last.forward_at(at_queries(x.clone()), x, query_mask)
    }
}

/// `RobertaClassificationHead`: `<s>` state → dense → tanh → out_proj.
#[derive(Module, Debug)]
pub struct ClassificationHead {
    /// `[hidden, hidden]`.
    pub dense: Linear,
    /// `[hidden, num_labels]`.
    pub out_proj: Linear,
}

/// The reward model: encoder plus classification head.
#[derive(Module, Debug)]
pub struct RobertaForSequenceClassification {
    /// Encoder.
    pub roberta: Roberta,
    /// Head.
    pub classifier: ClassificationHead,
}

impl RobertaForSequenceClassification {
    /// Class logits `[b, num_labels]` from the `<s>` (first) token.
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
    ) -> Tensor<2> {
        let hidden = self
            .roberta
            .forward(input_ids, position_ids, attention_mask);
        self.head(first_token(hidden))
    }

    /// Class logits `[b, num_labels]` from `<s>` states `[b, d]`.
    pub(crate) fn head(&self, first: Tensor<2>) -> Tensor<2> {
        let h = tanh(self.classifier.dense.forward(first));
        self.classifier.out_proj.forward(h)
    }
}

/// The first (`<s>`, `[CLS]`) token's state `[b, d]` of hidden states `[b, t, d]`.
pub(crate) fn first_token(hidden: Tensor<3>) -> Tensor<2> {
    let [b, _, d] = hidden.dims();
    hidden.slice(s![.., 0..1, ..]).reshape([b, d])
}

/// The states `[rows, d]` at `index` `[rows]` of the flattened `[n · t]` positions of hidden
/// states `[n, t, d]` (each packed row's `<s>`).
pub(crate) fn first_tokens(hidden: Tensor<3>, index: Tensor<1, Int>) -> Tensor<2> {
    let [n, t, d] = hidden.dims();
    hidden.reshape([n * t, d]).select(0, index)
}

/// RoBERTa position ids from host ids `[b, t]`: pads keep `pad`, tokens count from `pad + 1`.
pub fn roberta_position_ids(
    ids: &[u32],
    b: usize,
    t: usize,
    pad: u32,
    device: &Device,
) -> Tensor<2, Int> {
    let mut out = Vec::with_capacity(b * t);
    for row in ids.chunks(t.max(1)).take(b) {
        let mut count = 0i32;
        for &id in row {
            if id == pad {
                out.push(pad as i32);
            } else {
                count += 1;
                out.push(pad as i32 + count);
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [b, t]), device)
}
