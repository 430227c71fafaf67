//! The memory a generator's training will hold, estimated before it starts (the Train screen
//! shows it; `finelab train` prints it), beside the machine's.

use crate::train::TrainRequest;
use crate::Result;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The memory a generator's training will hold, estimated before it starts, beside the machine's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainMemory {
    /// Parameters of the base model.
    pub params: u64,
    /// Parameters trained (LoRA adapters, or every weight).
    pub trainable_params: u64,
    /// Bytes of the weights (f32).
    pub weights_bytes: u64,
    /// Bytes of the gradients and optimizer moments.
    pub optimizer_bytes: u64,
    /// Bytes of one micro-batch's activations at the longest sequence.
    pub activations_bytes: u64,
    /// The sum.
    pub total_bytes: u64,
    /// The machine's memory (Linux: `MemTotal`), when known.
    pub machine_bytes: Option<u64>,
    /// Memory available now (Linux: `MemAvailable`), when known.
    pub available_bytes: Option<u64>,
}

/// The memory training `request` will need, for a generator (`None` for the other families).
pub fn train_memory(request: &TrainRequest) -> Result<Option<TrainMemory>> {
    let plan = request.plan()?;
    let config = &plan.config;
    if config.family != finelab_train::generator::FAMILY {
        return Ok(None);
    }
    let Some(base) = &config.base_model else { return Ok(None) };
    let model = finelab_train::generator::model::BaseModel::open(base)?;
    let lora = (!config.full_finetune).then_some((config.lora_rank, config.lora_targets.as_slice()));
    let e = finelab_train::generator::model::estimate_memory(&model.config, lora, config.batch_size, config.max_len);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> Option<u64> {
        let line = meminfo.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
    };
    Ok(Some(TrainMemory {
        params: e.params,
        trainable_params: e.trainable_params,
        weights_bytes: e.weights_bytes,
        optimizer_bytes: e.optimizer_bytes,
        activations_bytes: e.activations_bytes,
        total_bytes: e.total_bytes,
        machine_bytes: field("MemTotal:"),
        available_bytes: field("MemAvailable:"),
    }))
}
