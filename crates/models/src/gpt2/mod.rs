//! GPT-2 (`GPT2LMHeadModel` semantics): learned positions, pre-norm blocks, `gelu_new`, LM head
//! tied to the token embeddings.

mod block;
mod config;
mod load;
mod model;
mod step_cache;

pub use block::{Attention, Block, LayerCache, Mlp, gelu_new};
pub use config::Gpt2Config;
pub use load::IGNORED_GPT2_KEYS;
pub(crate) use load::load_layer_norm;
pub use model::{Gpt2, Gpt2Input, KvCache, position_ids};
pub use step_cache::{CacheShape, StepCache};
