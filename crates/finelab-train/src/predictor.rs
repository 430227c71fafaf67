//! [`Predictor`]: loads a model folder of any family and predicts with it.

use std::path::Path;

use serde_json::Value;

use crate::config::TrainConfig;
use crate::data::Task;
use crate::decode::Prediction;
use crate::error::{Error, Result};
use crate::family::{INSTANT, MODEL_FILE, TRANSFORMER};
use crate::instant::InstantModel;
use crate::transformer::TransformerPredictor;

#[derive(Debug, Clone)]
enum Inner {
    Instant(Box<InstantModel>),
    Transformer(Box<TransformerPredictor>),
}

/// A loaded model of any family, ready to predict.
#[derive(Debug, Clone)]
pub struct Predictor {
    inner: Inner,
}

impl Predictor {
    /// Loads a model folder written by training; `finelab-model.json` says which family it is.
    /// Errors name the file that is missing or wrong.
    pub fn load(dir: &Path) -> Result<Predictor> {
        let meta_path = dir.join(MODEL_FILE);
        let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta: Value = serde_json::from_str(&text)
            .map_err(|e| Error::CorruptModel { path: meta_path.clone(), message: e.to_string() })?;
        let inner = match meta.get("family").and_then(Value::as_str) {
            Some(TRANSFORMER) => Inner::Transformer(Box::new(TransformerPredictor::load(dir)?)),
            _ => Inner::Instant(Box::new(InstantModel::load(dir)?)),
        };
        Ok(Predictor { inner })
    }

    /// The model family (`instant`, `transformer`).
    pub fn family(&self) -> &'static str {
        match &self.inner {
            Inner::Instant(_) => INSTANT,
            Inner::Transformer(_) => TRANSFORMER,
        }
    }

    /// The task the model was trained for.
    pub fn task(&self) -> Task {
        match &self.inner {
            Inner::Instant(m) => m.task(),
            Inner::Transformer(m) => m.task(),
        }
    }

    /// The model's labels (entity types for spans).
    pub fn labels(&self) -> &[String] {
        match &self.inner {
            Inner::Instant(m) => m.labels(),
            Inner::Transformer(m) => m.labels(),
        }
    }

    /// The folder the model was loaded from.
    pub fn dir(&self) -> &Path {
        match &self.inner {
            Inner::Instant(m) => m.dir(),
            Inner::Transformer(m) => m.dir(),
        }
    }

    /// The training configuration stored with the model.
    pub fn config(&self) -> &TrainConfig {
        match &self.inner {
            Inner::Instant(m) => m.config(),
            Inner::Transformer(m) => m.config(),
        }
    }

    /// The content of `finelab-model.json`, for display.
    pub fn describe(&self) -> Value {
        match &self.inner {
            Inner::Instant(m) => m.describe(),
            Inner::Transformer(m) => m.describe(),
        }
    }

    /// Predicts one text.
    ///
    /// # Panics
    /// When the tensor library fails on a transformer model (out of memory); use
    /// [`Predictor::predict_batch`] to get that as an error.
    pub fn predict(&self, text: &str) -> Prediction {
        match &self.inner {
            Inner::Instant(m) => m.predict(text),
            Inner::Transformer(m) => {
                m.predict_batch(&[text]).expect("transformer inference failed").pop().expect("one prediction per text")
            }
        }
    }

    /// Predicts several texts; a transformer batches them, which is much faster than one by one.
    pub fn predict_batch(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        match &self.inner {
            Inner::Instant(m) => Ok(texts.iter().map(|t| m.predict(t)).collect()),
            Inner::Transformer(m) => m.predict_batch(texts),
        }
    }

    /// The transformer model inside, when it is one (logits and token ids for checks).
    pub fn as_transformer(&self) -> Option<&TransformerPredictor> {
        match &self.inner {
            Inner::Transformer(m) => Some(m),
            Inner::Instant(_) => None,
        }
    }
}
