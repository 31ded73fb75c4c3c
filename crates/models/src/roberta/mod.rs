//! RoBERTa encoder and `RobertaForSequenceClassification` (the reward model). The encoder and
//! its loader also serve BERT and DistilBERT ([`crate::classifier`]).

mod batch;
mod config;
mod init;
mod load;
mod model;
mod packed;

pub use batch::RobertaBatch;
pub use config::RobertaConfig;
pub use load::IGNORED_ROBERTA_KEYS;
pub(crate) use load::{EncoderKeys, linear, load_encoder};
pub(crate) use model::first_token;
pub use model::{
    ClassificationHead, Embeddings, EncoderLayer, Roberta, RobertaForSequenceClassification,
    SelfAttention, roberta_position_ids,
};
pub use packed::PackedBatch;
