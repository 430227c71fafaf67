//! Distillation: a smaller student trained on a fine-tuned teacher's soft predictions (its
//! probabilities, Hinton et al.'s soft targets at temperature 1) over the train split and the
//! unlabeled records, rather than on the hard labels alone.
//!
//! Single-label: the cross-entropy against the teacher's distribution, `−Σ_c p_c · log
//! softmax(z)_c`, averaged over the batch (PyTorch's `F.cross_entropy(logits, probs)`; the test
//! below checks the loss and its gradient against `scripts/reference/distill_loss_reference.py`'s
//! output). Multi-label: the teacher's per-label probabilities as the binary cross-entropy's
//! targets (the multi-label loss takes float targets already). Spans are not distilled.

use std::collections::HashMap;

use candle_core::{Result, Tensor, D};

use super::nn::log_softmax_last_dim;

/// A teacher's probabilities per train example id, in the label order of the dataset.
pub type SoftTargets = HashMap<String, Vec<f32>>;

/// `−Σ_c p_c · log softmax(z)_c`, averaged over the rows of `logits` `(n, classes)`; `targets`
/// holds one distribution a row.
pub fn soft_cross_entropy(logits: &Tensor, targets: &[Vec<f32>]) -> Result<Tensor> {
    let (n, classes) = logits.dims2()?;
    let flat: Vec<f32> = targets.iter().flat_map(|t| t.iter().copied()).collect();
    if flat.len() != n * classes {
        candle_core::bail!("{} soft targets for {n} rows of {classes} classes", flat.len())
    }
    let p = Tensor::from_vec(flat, (n, classes), logits.device())?.to_dtype(logits.dtype())?;
    let logp = log_softmax_last_dim(logits)?;
    (logp * p)?.sum(D::Minus1)?.neg()?.sum_all()? / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};
    use serde_json::Value;

    fn rows(v: &Value) -> Vec<Vec<f32>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
            .collect()
    }

    /// The loss and its gradient with respect to the logits equal PyTorch's
    /// `F.cross_entropy(logits, probs)` (`tests/data/distill_loss_reference.json`, written by
    /// `scripts/reference/distill_loss_reference.py`).
    #[test]
    fn soft_cross_entropy_and_its_gradient_match_pytorch() {
        let reference: Value =
            serde_json::from_str(include_str!("../../tests/data/distill_loss_reference.json")).unwrap();
        for case in reference["cases"].as_array().unwrap() {
            let logits = rows(&case["logits"]);
            let (n, c) = (logits.len(), logits[0].len());
            let var = Var::from_tensor(&Tensor::from_vec(logits.concat(), (n, c), &Device::Cpu).unwrap()).unwrap();
            let loss = soft_cross_entropy(var.as_tensor(), &rows(&case["targets"])).unwrap();
            let got = loss.to_scalar::<f32>().unwrap();
            let want = case["loss"].as_f64().unwrap() as f32;
            assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "loss {got} against PyTorch's {want}");
            let grads = loss.backward().unwrap();
            let grad: Vec<f32> = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            for (g, w) in grad.iter().zip(rows(&case["grad"]).concat()) {
                assert!((g - w).abs() <= 1e-6, "gradient {g} against PyTorch's {w}");
            }
        }
        // A one-hot target is the ordinary cross-entropy: −log softmax at the class.
        let logits = Tensor::new(&[[2.0f32, 0.0, -1.0]], &Device::Cpu).unwrap();
        let hard = soft_cross_entropy(&logits, &[vec![1.0, 0.0, 0.0]]).unwrap().to_scalar::<f32>().unwrap();
        let z: f32 = [2.0f32, 0.0, -1.0].iter().map(|v| v.exp()).sum();
        assert!((hard - (z.ln() - 2.0)).abs() < 1e-6);
        assert!(soft_cross_entropy(&logits, &[vec![1.0, 0.0]]).is_err());
    }
}
