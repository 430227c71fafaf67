//! Trainable variables, named as Hugging Face names them, in creation order.
//!
//! Training builds the model into a [`VarStore`] (every weight a candle `Var` with a seeded
//! initial value), then loads the checkpoint into it by name, then creates the head. The order is
//! fixed by the model code, so iterating the store (the optimizer, gradient clipping, export) is
//! deterministic — a `HashMap`-backed `VarMap` would sum gradient norms in a random order.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};

use super::nn::normal;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// How a weight starts before (or without) a checkpoint.
#[derive(Debug, Clone, Copy)]
pub enum Init {
    /// Normal with mean 0 and this standard deviation (BERT's `initializer_range`).
    Normal(f64),
    /// All zeros (biases).
    Zeros,
    /// All ones (layer-norm scales).
    Ones,
}

/// Something the model code asks for its weights by name and shape.
pub trait Source {
    /// The weight called `name`, of `shape`.
    fn tensor(&mut self, name: &str, shape: &[usize], init: Init) -> candle_core::Result<Tensor>;
}

/// One trainable variable.
pub struct Param {
    /// Hugging Face tensor name (`bert.encoder.layer.0.attention.self.query.weight`).
    pub name: String,
    /// The variable.
    pub var: Var,
    /// Whether AdamW's weight decay applies (not to biases and layer-norm weights, as in
    /// Hugging Face's Trainer).
    pub decay: bool,
}

/// The model's variables, in creation order.
pub struct VarStore {
    params: Vec<Param>,
    index: HashMap<String, usize>,
    rng: SplitMix64,
    device: Device,
}

impl VarStore {
    /// An empty store; `seed` drives the initial values.
    pub fn new(device: &Device, seed: u64) -> Self {
        VarStore {
            params: Vec::new(),
            index: HashMap::new(),
            rng: SplitMix64::new(seed ^ 0x5EED_1417),
            device: device.clone(),
        }
    }

    /// The variables, in creation order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The device the variables live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.index.get(name).map(|&i| &self.params[i])
    }

    /// A view that hands out the same weights detached from the gradient graph (for evaluation:
    /// no graph is built, and the view sees every optimizer update).
    pub fn detached(&self) -> DetachedView<'_> {
        DetachedView(self)
    }

    /// Copies every variable's current value (for keeping the best epoch).
    pub fn snapshot(&self) -> candle_core::Result<Vec<Tensor>> {
        self.params.iter().map(|p| p.var.as_tensor().copy()).collect()
    }

    /// Restores values taken by [`VarStore::snapshot`].
    pub fn restore(&self, values: &[Tensor]) -> candle_core::Result<()> {
        for (p, v) in self.params.iter().zip(values) {
            p.var.set(v)?;
        }
        Ok(())
    }

    /// Loads the tensors of `checkpoint` into the variables of the same name. A checkpoint name
    /// may lack the model prefix (`bert.`), and old checkpoints say `gamma`/`beta` for layer-norm
    /// weights. Variables whose names start with one of `fresh` keep their initial values (the
    /// new head). Returns the names of the other variables the checkpoint lacks.
    pub fn load(
        &self,
        checkpoint: &HashMap<String, Tensor>,
        file: &Path,
        prefix: &str,
        fresh: &[&str],
    ) -> Result<Vec<String>> {
        let mut by_name: HashMap<String, &Tensor> = HashMap::new();
        for (name, tensor) in checkpoint {
            let mut canonical = name.clone();
            if let Some(stem) = canonical.strip_suffix(".gamma") {
                canonical = format!("{stem}.weight");
            } else if let Some(stem) = canonical.strip_suffix(".beta") {
                canonical = format!("{stem}.bias");
            }
            // Without the prefix, a name may be an encoder weight of a bare `BertModel`
            // checkpoint (MiniLM's) or a head weight (`classifier.weight`): offer it as both.
            if !canonical.starts_with(prefix) {
                by_name.entry(format!("{prefix}{canonical}")).or_insert(tensor);
            }
            by_name.insert(canonical, tensor);
        }
        let mut missing = Vec::new();
        for p in &self.params {
            if fresh.iter().any(|f| p.name.starts_with(f)) {
                continue;
            }
            let Some(tensor) = by_name.get(&p.name) else {
                missing.push(p.name.clone());
                continue;
            };
            if tensor.dims() != p.var.dims() {
                return Err(Error::CorruptModel {
                    path: file.to_path_buf(),
                    message: format!(
                        "tensor {} has shape {:?} but config.json implies {:?}",
                        p.name,
                        tensor.dims(),
                        p.var.dims()
                    ),
                });
            }
            let value = tensor.to_dtype(p.var.dtype())?.to_device(&self.device)?;
            p.var.set(&value)?;
        }
        Ok(missing)
    }

    /// Number of scalar weights.
    pub fn n_weights(&self) -> usize {
        self.params.iter().map(|p| p.var.elem_count()).sum()
    }
}

impl Source for VarStore {
    fn tensor(&mut self, name: &str, shape: &[usize], init: Init) -> candle_core::Result<Tensor> {
        if let Some(&i) = self.index.get(name) {
            return Ok(self.params[i].var.as_tensor().clone());
        }
        let n: usize = shape.iter().product();
        let values = match init {
            Init::Normal(std) => normal(&mut self.rng, n, std),
            Init::Zeros => vec![0.0; n],
            Init::Ones => vec![1.0; n],
        };
        let tensor = Tensor::from_vec(values, shape, &self.device)?.to_dtype(DType::F32)?;
        let var = Var::from_tensor(&tensor)?;
        let decay = !(name.ends_with(".bias") || name.contains("LayerNorm") || name.contains("layer_norm"));
        self.index.insert(name.to_string(), self.params.len());
        self.params.push(Param { name: name.to_string(), var: var.clone(), decay });
        Ok(var.as_tensor().clone())
    }
}

/// See [`VarStore::detached`].
pub struct DetachedView<'a>(&'a VarStore);

impl Source for DetachedView<'_> {
    fn tensor(&mut self, name: &str, shape: &[usize], _init: Init) -> candle_core::Result<Tensor> {
        match self.0.get(name) {
            Some(p) if p.var.dims() == shape => Ok(p.var.as_detached_tensor()),
            _ => candle_core::bail!("no variable {name} of shape {shape:?}"),
        }
    }
}

/// A view that hands out the store's variables cast to a lower precision (`bf16`), for
/// mixed-precision compute as `torch.autocast` does it: the variables, their gradients and the
/// optimizer stay in f32, gradients flow back through the cast, and embedding and layer-norm
/// weights stay in f32 (the encoders cast the embeddings' output to the layers' dtype; layer norm
/// and softmax compute in f32, see `nn`). Build the model from a new view after each
/// optimizer step, or with `detached` for inference.
pub struct CastView<'a> {
    store: &'a VarStore,
    dtype: DType,
    detached: bool,
}

impl<'a> CastView<'a> {
    /// The variables of `store` as `dtype`; `detached` leaves them out of the gradient graph.
    pub fn new(store: &'a VarStore, dtype: DType, detached: bool) -> Self {
        CastView { store, dtype, detached }
    }
}

impl Source for CastView<'_> {
    fn tensor(&mut self, name: &str, shape: &[usize], _init: Init) -> candle_core::Result<Tensor> {
        let Some(p) = self.store.get(name).filter(|p| p.var.dims() == shape) else {
            candle_core::bail!("no variable {name} of shape {shape:?}")
        };
        let t = if self.detached { p.var.as_detached_tensor() } else { p.var.as_tensor().clone() };
        // As under torch.autocast: embedding lookups and layer norms run on f32 weights.
        if name.contains("LayerNorm") || name.contains("layer_norm") || name.contains("embeddings.") {
            return Ok(t);
        }
        t.to_dtype(self.dtype)
    }
}

/// Suffix of the per-row scales of a weight stored as int8 (`NAME` int8, `NAME_scale` f32).
pub const INT8_SCALE_SUFFIX: &str = "_scale";

/// Every tensor of a safetensors file, as f32 where it was stored as int8 with per-row scales
/// (an int8-quantized model folder, see `quantize.rs`): `q · scale[row]`.
pub fn load_safetensors(path: &Path) -> candle_core::Result<HashMap<String, Tensor>> {
    use candle_core::safetensors::Load;
    if !holds_int8(path)? {
        // The common case, memory-mapped by candle.
        return candle_core::safetensors::load(path, &Device::Cpu);
    }
    let bytes = std::fs::read(path)?;
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let mut out = HashMap::new();
    let mut int8 = Vec::new();
    for (name, view) in file.tensors() {
        if view.dtype() == safetensors::Dtype::I8 {
            int8.push((name, view));
        } else {
            out.insert(name, view.load(&Device::Cpu)?);
        }
    }
    for (name, view) in int8 {
        let shape = view.shape().to_vec();
        let Some(scale) = out.remove(&format!("{name}{INT8_SCALE_SUFFIX}")) else {
            candle_core::bail!("{name} is stored as int8 without its {name}{INT8_SCALE_SUFFIX}")
        };
        let scale: Vec<f32> = scale.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let rows = shape.first().copied().unwrap_or(1);
        if shape.len() != 2 || scale.len() != rows {
            candle_core::bail!(
                "{name}: an int8 weight is a matrix with one scale a row, not {shape:?} with {}",
                scale.len()
            )
        }
        let cols = shape[1];
        let values: Vec<f32> =
            view.data().iter().enumerate().map(|(i, &b)| f32::from(b as i8) * scale[i / cols.max(1)]).collect();
        out.insert(name, Tensor::from_vec(values, (rows, cols), &Device::Cpu)?);
    }
    Ok(out)
}

/// Whether a safetensors file's header lists an int8 tensor.
fn holds_int8(path: &Path) -> candle_core::Result<bool> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > 100_000_000 {
        candle_core::bail!("not a safetensors file: a header of {len} bytes")
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    Ok(header.as_object().is_some_and(|m| m.values().any(|t| t["dtype"] == "I8")))
}

/// Reads the tensors of a checkpoint: `model.safetensors`, else `pytorch_model.bin`. Errors name
/// the file.
pub fn read_checkpoint(dir: &Path) -> Result<(HashMap<String, Tensor>, std::path::PathBuf)> {
    let safetensors = dir.join("model.safetensors");
    let bin = dir.join("pytorch_model.bin");
    let corrupt =
        |path: &Path, e: candle_core::Error| Error::CorruptModel { path: path.to_path_buf(), message: e.to_string() };
    if safetensors.is_file() {
        let tensors = load_safetensors(&safetensors).map_err(|e| corrupt(&safetensors, e))?;
        return Ok((tensors, safetensors));
    }
    if bin.is_file() {
        let tensors = candle_core::pickle::read_all(&bin).map_err(|e| corrupt(&bin, e))?;
        return Ok((tensors.into_iter().collect(), bin));
    }
    if dir.join("model.safetensors.index.json").is_file() {
        return Err(Error::ModelFolder {
            path: dir.join("model.safetensors.index.json"),
            message: "sharded checkpoints are not supported; merge the shards into one model.safetensors".into(),
        });
    }
    Err(Error::ModelFolder {
        path: safetensors,
        message: "no weights: the folder has neither model.safetensors nor pytorch_model.bin".into(),
    })
}
