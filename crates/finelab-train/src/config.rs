//! Training options: raw as they come from a form or flags ([`TrainOptions`]), validated once
//! into a [`TrainConfig`] that the code below trusts.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Raw training options; every field is optional and falls back to a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// Model family name (only "instant" in this build).
    pub family: Option<String>,
    /// Maximum number of passes over the train split.
    pub epochs: Option<usize>,
    /// Learning rate of the AdaGrad optimizer.
    pub lr: Option<f64>,
    /// Seed for shuffling; the same seed gives the same model.
    pub seed: Option<u64>,
    /// L2 penalty on the weights touched by each update.
    pub l2: Option<f64>,
    /// Epochs without dev macro-F1 improvement before stopping.
    pub patience: Option<usize>,
    /// Examples per gradient step.
    pub batch_size: Option<usize>,
    /// log2 of the size of the hashed feature space.
    pub hash_bits: Option<u32>,
    /// Longest character n-gram used as a feature.
    pub max_char_ngram: Option<usize>,
    /// Requested device: "auto" or "cpu" (the instant family runs on the CPU).
    pub device: Option<String>,
}

/// A validated training configuration, stored with every model and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model family name.
    pub family: String,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// AdaGrad learning rate.
    pub lr: f64,
    /// Shuffling seed.
    pub seed: u64,
    /// L2 penalty.
    pub l2: f64,
    /// Early-stopping patience in epochs.
    pub patience: usize,
    /// Examples per gradient step.
    pub batch_size: usize,
    /// log2 of the hashed feature space size.
    pub hash_bits: u32,
    /// Longest character n-gram.
    pub max_char_ngram: usize,
    /// The device training runs on ("cpu").
    pub device: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            family: "instant".into(),
            epochs: 15,
            lr: 0.2,
            seed: 42,
            l2: 0.0,
            patience: 3,
            batch_size: 8,
            hash_bits: 20,
            max_char_ngram: 3,
            device: "cpu".into(),
        }
    }
}

impl TrainConfig {
    /// Validates raw options, filling defaults for the ones left out.
    pub fn from_options(options: &TrainOptions) -> Result<TrainConfig> {
        let d = TrainConfig::default();
        let family = options.family.clone().unwrap_or(d.family);
        if family != "instant" {
            return Err(Error::UnsupportedFamily(family));
        }
        let invalid = |field: &'static str, message: &str| Error::InvalidConfig { field, message: message.into() };
        let epochs = options.epochs.unwrap_or(d.epochs);
        if !(1..=10_000).contains(&epochs) {
            return Err(invalid("epochs", "must be between 1 and 10000"));
        }
        let lr = options.lr.unwrap_or(d.lr);
        if !(lr.is_finite() && lr > 0.0 && lr <= 100.0) {
            return Err(invalid("lr", "must be a number above 0 and at most 100"));
        }
        let l2 = options.l2.unwrap_or(d.l2);
        if !(l2.is_finite() && (0.0..1.0).contains(&l2)) {
            return Err(invalid("l2", "must be at least 0 and below 1"));
        }
        let patience = options.patience.unwrap_or(d.patience);
        if patience == 0 {
            return Err(invalid("patience", "must be at least 1 epoch"));
        }
        let batch_size = options.batch_size.unwrap_or(d.batch_size);
        if !(1..=65_536).contains(&batch_size) {
            return Err(invalid("batch_size", "must be between 1 and 65536"));
        }
        let hash_bits = options.hash_bits.unwrap_or(d.hash_bits);
        if !(8..=24).contains(&hash_bits) {
            return Err(invalid("hash_bits", "must be between 8 and 24"));
        }
        let max_char_ngram = options.max_char_ngram.unwrap_or(d.max_char_ngram);
        if !(1..=5).contains(&max_char_ngram) {
            return Err(invalid("max_char_ngram", "must be between 1 and 5"));
        }
        let device = match options.device.as_deref().unwrap_or("auto") {
            "auto" | "cpu" => "cpu".to_string(),
            other => {
                return Err(Error::InvalidConfig {
                    field: "device",
                    message: format!("{other:?} is not available: the instant family runs on the CPU (use auto or cpu)"),
                })
            }
        };
        Ok(TrainConfig {
            family,
            epochs,
            lr,
            seed: options.seed.unwrap_or(d.seed),
            l2,
            patience,
            batch_size,
            hash_bits,
            max_char_ngram,
            device,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str, expected: std::result::Result<(), &str>) {
        let options: TrainOptions = serde_json::from_str(json).unwrap();
        match (TrainConfig::from_options(&options), expected) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{json}: {e}"),
            (got, want) => panic!("{json}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn options_are_validated() {
        check("{}", Ok(()));
        check(r#"{"family":"instant","epochs":3,"lr":0.5,"device":"cpu"}"#, Ok(()));
        check(r#"{"family":"bert"}"#, Err("unknown model family"));
        check(r#"{"epochs":0}"#, Err("epochs"));
        check(r#"{"lr":-1}"#, Err("lr"));
        check(r#"{"l2":2}"#, Err("l2"));
        check(r#"{"patience":0}"#, Err("patience"));
        check(r#"{"batch_size":0}"#, Err("batch_size"));
        check(r#"{"hash_bits":30}"#, Err("hash_bits"));
        check(r#"{"device":"cuda"}"#, Err("runs on the CPU"));
    }

    #[test]
    fn defaults_say_cpu() {
        assert_eq!(TrainConfig::from_options(&TrainOptions::default()).unwrap().device, "cpu");
    }
}
