//! A checkpoint's tensors by name, read from `model.safetensors` or `pytorch_model.bin`.
//!
//! Models take their tensors out one by one with the shape their `config.json` implies, so a
//! missing tensor or a wrong shape is reported with its key. What is left at the end is
//! reported as unexpected, except buffers that transformers itself ignores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::store::{ModuleStore, PytorchStore, SafetensorsStore, bridge};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::ModelError;

/// All tensors of one checkpoint file, as `f32` host data.
#[derive(Debug)]
pub struct WeightMap {
    path: PathBuf,
    tensors: BTreeMap<String, TensorData>,
}

impl WeightMap {
    /// Reads every tensor of `path`: SafeTensors for `*.safetensors`, PyTorch pickle/zip
    /// otherwise (`pytorch_model.bin`, `*.pt`, `*.pth`). Half-precision tensors become `f32`.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let corrupt = |message: String| ModelError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(corrupt("no such file".into()));
        }
        let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
        let raw = if is_safetensors {
            let mut store = SafetensorsStore::from_file(path).map_indices_contiguous(false);
            collect(&mut store).map_err(corrupt)?
        } else {
            let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
            collect(&mut store).map_err(corrupt)?
        };
        Ok(Self {
            path: path.to_path_buf(),
            tensors: raw,
        })
    }

    /// Builds a map from tensors already in memory (tests, conversions).
    pub fn from_tensors(path: PathBuf, tensors: BTreeMap<String, TensorData>) -> Self {
        Self { path, tensors }
    }

    /// The file the tensors came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of the tensors not taken yet.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Drops `prefix` from every key that starts with it (`transformer.`, `roberta.`), so
    /// checkpoints saved from a head model and from the bare backbone read alike.
    pub fn strip_prefix(&mut self, prefix: &str) {
        let tensors = std::mem::take(&mut self.tensors);
        self.tensors = tensors
            .into_iter()
            .map(|(k, v)| match k.strip_prefix(prefix) {
                Some(rest) => (rest.to_string(), v),
                None => (k, v),
            })
            .collect();
    }

    /// True when `key` is present (and not taken yet).
    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    /// Removes and returns `key` without a shape check.
    pub fn remove(&mut self, key: &str) -> Option<TensorData> {
        self.tensors.remove(key)
    }

    /// Removes `key`, checking it has exactly `shape`.
    pub fn take(&mut self, key: &str, shape: &[usize]) -> Result<TensorData, ModelError> {
        let data = self
            .tensors
            .remove(key)
            .ok_or_else(|| ModelError::MissingWeight {
                key: key.to_string(),
                path: self.path.clone(),
            })?;
        if data.shape().as_slice() != shape {
            return Err(ModelError::ShapeMismatch {
                key: key.to_string(),
                path: self.path.clone(),
                expected: shape.to_vec(),
                found: data.shape().to_vec(),
            });
        }
        Ok(data)
    }

    /// Takes `key` of `shape` as a parameter on `device`.
    pub fn param<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Param<Tensor<D>>, ModelError> {
        let data = self.take(key, &shape)?;
        Ok(Param::from_tensor(Tensor::from_data(data, device)))
    }

    /// Takes a PyTorch `nn.Linear` weight stored `[d_out, d_in]` and returns it as burn's
    /// `[d_in, d_out]` parameter.
    pub fn linear_weight(
        &mut self,
        key: &str,
        d_in: usize,
        d_out: usize,
        device: &Device,
    ) -> Result<Param<Tensor<2>>, ModelError> {
        let data = self.take(key, &[d_out, d_in])?;
        let transposed = transpose(&data, d_out, d_in);
        Ok(Param::from_tensor(Tensor::from_data(transposed, device)))
    }

    /// Fails with [`ModelError::UnexpectedWeights`] if any key is left that does not end with
    /// one of `ignored_suffixes` (buffers such as GPT-2's `attn.bias` causal masks).
    pub fn finish(self, ignored_suffixes: &[&str]) -> Result<(), ModelError> {
        let keys: Vec<String> = self
            .tensors
            .into_keys()
            .filter(|k| !ignored_suffixes.iter().any(|s| k.ends_with(s)))
            .collect();
        if keys.is_empty() {
            Ok(())
        } else {
            Err(ModelError::UnexpectedWeights {
                keys,
                path: self.path,
            })
        }
    }
}

fn collect<S: ModuleStore>(store: &mut S) -> Result<BTreeMap<String, TensorData>, String> {
    let all = store.get_all_tensors().map_err(|e| e.to_string())?;
    let mut tensors = BTreeMap::new();
    for (name, tensor) in all {
        let data = bridge::to_data(tensor).map_err(|e| format!("tensor `{name}`: {e}"))?;
        tensors.insert(name.clone(), to_f32(data));
    }
    if tensors.is_empty() {
        return Err("the file holds no tensors".into());
    }
    Ok(tensors)
}

/// Converts any float or int data to `f32` (checkpoints in f16/bf16 load into f32 models).
fn to_f32(data: TensorData) -> TensorData {
    if data.dtype() == burn::tensor::DType::F32 {
        data
    } else {
        data.convert::<f32>()
    }
}

/// Row-major transpose of a `[rows, cols]` f32 matrix.
pub(crate) fn transpose(data: &TensorData, rows: usize, cols: usize) -> TensorData {
    let values = data.iter::<f32>().collect::<Vec<f32>>();
    let mut out = vec![0.0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    TensorData::new(out, [cols, rows])
}

/// Reads a `[rows, cols]` float tensor back into host `f32` data (for saving and exporting).
pub(crate) fn host_f32<const D: usize>(tensor: &Tensor<D>) -> TensorData {
    to_f32(tensor.to_data())
}

/// Integer tensor `[batch, seq]` from row-major host ids.
pub fn ids_tensor(ids: &[u32], batch: usize, seq: usize, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
    Tensor::from_data(TensorData::new(ids, [batch, seq]), device)
}

/// First id given by [`with_stable_param_ids`] (far from small generated ids).
const STABLE_ID_BASE: u64 = 0x5EED_0000_0000;

/// The same module with parameter ids numbered in visit order. Optimizer state is keyed by
/// parameter id, so a model rebuilt from a checkpoint must get the ids it had when the
/// optimizer state was saved; numbering them by position makes that hold.
pub fn with_stable_param_ids<M: Module>(module: M) -> M {
    struct Renumber(u64);
    impl ModuleMapper for Renumber {
        fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.id = ParamId::from(STABLE_ID_BASE + self.0);
            self.0 += 1;
            param
        }
    }
    module.map(&mut Renumber(0))
}

/// The same module with every float parameter in a buffer of its own (a copy). A module made
/// with `valid()` or `clone()` shares its buffers with the original; the frozen reference must
/// not, or the policy's in-place parameter updates find the buffers shared and copy them first.
pub fn with_own_storage<M: Module>(module: M) -> M {
    struct Copy;
    impl ModuleMapper for Copy {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|tensor| {
                let device = tensor.device();
                Tensor::from_data(tensor.to_data(), &device)
            })
        }
    }
    module.map(&mut Copy)
}
