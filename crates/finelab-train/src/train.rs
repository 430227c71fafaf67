//! The training loop shared by all model families ([`fit`]), its entry point ([`train`]) and its
//! outcome. A family only trains a pass, scores a split, keeps and restores its best weights and
//! saves itself (see [`Family`]); epochs, early stopping, best-epoch keeping, stop and the test
//! evaluation are decided here, once for every family.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::family::{Family, Pass, Split, Splits, GENERATOR, INSTANT, TRANSFORMER};
use crate::progress::{Control, Progress, Steps};
use crate::{instant, transformer};

/// One evaluated epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochSummary {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Macro-averaged F1 on dev.
    pub dev_macro_f1: f64,
    /// Seconds the epoch took, evaluation included.
    pub seconds: f64,
}

/// The result of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// Epoch whose weights were kept (0 when stopped before the first epoch ended: the weights
    /// are then those of the partial epoch).
    pub best_epoch: usize,
    /// Every evaluated epoch, in order.
    pub epochs: Vec<EpochSummary>,
    /// Report of the kept model on the dev split (on train when the dev split is empty).
    pub dev: Value,
    /// Report of the kept model on the test split, when there is one.
    pub test: Option<Value>,
    /// Whether the callback asked to stop.
    pub stopped: bool,
    /// The saved model folder (loadable with [`crate::Predictor::load`]).
    pub model_dir: PathBuf,
    /// Number of training examples.
    pub n_train: usize,
    /// Wall-clock seconds of the whole run, saving included.
    pub train_seconds: f64,
    /// True when the dev split was empty and the train split stood in for it.
    pub dev_is_train: bool,
    /// The device training ran on ("cpu", "cuda", "metal").
    pub device: String,
    /// The configuration used.
    pub config: TrainConfig,
}

/// Trains a model of `config.family` on `dataset`, writes it to `out_dir` (created if needed)
/// and returns its metrics. `progress` receives events and may answer [`Control::Stop`]: training
/// then returns promptly with `stopped: true`, keeping the best model so far.
///
/// The same dataset, config and seed give the same weights and metrics.
pub fn train(
    dataset: &Dataset,
    config: &TrainConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TrainOutcome> {
    dataset.validate()?;
    // The run's time counts the family's set-up (featurizing, loading a base model) too.
    let started = Instant::now();
    let splits = Splits {
        n_train: dataset.train.len(),
        dev_is_train: dataset.dev.is_empty(),
        has_test: !dataset.test.is_empty(),
    };
    match config.family.as_str() {
        INSTANT => fit(&mut instant::Trainer::new(dataset, config), splits, config, out_dir, started, progress),
        TRANSFORMER => {
            fit(&mut transformer::Trainer::new(dataset, config, None)?, splits, config, out_dir, started, progress)
        }
        GENERATOR => Err(Error::InvalidDataset(
            "the generator family trains on dialogs and their answers: call finelab_train::generator::train".into(),
        )),
        other => Err(Error::UnsupportedFamily(other.to_string())),
    }
}

/// Trains a transformer student (`config.base_model`, typically a teacher's first layers) on a
/// teacher's soft predictions: each train example in `soft` learns the teacher's probabilities
/// (one a label, in `dataset.labels`' order) instead of its label (see
/// [`transformer::distill`]); dev and test are scored against their gold labels as ever. The
/// train split may hold unlabeled records labeled by the teacher's most probable label.
pub fn distill(
    dataset: &Dataset,
    soft: &transformer::distill::SoftTargets,
    config: &TrainConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TrainOutcome> {
    dataset.validate()?;
    if config.family != TRANSFORMER {
        return Err(Error::UnsupportedFamily(format!("{} (distillation trains a transformer student)", config.family)));
    }
    let n_labels = dataset.labels.len();
    if let Some((id, p)) = soft.iter().find(|(_, p)| p.len() != n_labels || p.iter().any(|v| !v.is_finite())) {
        return Err(Error::InvalidDataset(format!(
            "the soft target of {id} has {} values, not one probability for each of the {n_labels} labels",
            p.len()
        )));
    }
    let started = Instant::now();
    let splits = Splits {
        n_train: dataset.train.len(),
        dev_is_train: dataset.dev.is_empty(),
        has_test: !dataset.test.is_empty(),
    };
    let mut trainer = transformer::Trainer::new(dataset, config, Some(soft))?;
    fit(&mut trainer, splits, config, out_dir, started, progress)
}

/// Quantizes the fine-tuned transformer folder `config.base_model` to int8 into `out_dir` and
/// scores it on `dataset`'s dev and test splits (see [`transformer::quantize`]): a run with no
/// epochs, whose model is its parent's made smaller and faster for the CPU.
pub fn quantize_int8(dataset: &Dataset, config: &TrainConfig, out_dir: &Path) -> Result<TrainOutcome> {
    let started = Instant::now();
    let scored = transformer::quantize::quantize_and_score(dataset, config, out_dir)?;
    Ok(TrainOutcome {
        best_epoch: scored.best_epoch,
        epochs: Vec::new(),
        dev: scored.dev,
        test: scored.test,
        stopped: false,
        model_dir: out_dir.to_path_buf(),
        n_train: dataset.train.len(),
        train_seconds: started.elapsed().as_secs_f64(),
        dev_is_train: scored.dev_is_train,
        device: "cpu".into(),
        config: config.clone(),
    })
}

/// The training loop: up to `config.epochs` passes of `family` over the train split, each scored
/// on dev; stops early when dev macro-F1 has not improved for `config.patience` epochs, or when
/// `progress` answers [`Control::Stop`]. The best epoch's weights (the first of equals) are kept,
/// scored on dev and test, and saved to `out_dir`; `started` is when the run began.
pub(crate) fn fit(
    family: &mut dyn Family,
    splits: Splits,
    config: &TrainConfig,
    out_dir: &Path,
    started: Instant,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TrainOutcome> {
    // Freed buffers stay in the allocator until the run ends (see `memory`).
    let _memory = crate::memory::hold();
    let mut steps = Steps::new(progress, family.steps_per_epoch() * config.epochs);
    let mut best: Option<(usize, f64)> = None;
    let mut epochs = Vec::new();
    let mut stopped = false;

    for epoch in 1..=config.epochs {
        let epoch_started = Instant::now();
        steps.begin_epoch(epoch);
        let train_loss = match family.run_epoch(&mut steps)? {
            Pass::Finished { train_loss } => train_loss,
            Pass::Stopped => {
                stopped = true;
                break;
            }
        };
        let dev = family.tune_on_dev()?;
        let seconds = epoch_started.elapsed().as_secs_f64();
        epochs.push(EpochSummary { epoch, train_loss, dev_macro_f1: dev.macro_f1, seconds });
        // Strictly better only: on a tie the earlier (less fitted) epoch stays.
        if best.is_none_or(|(_, f1)| dev.macro_f1 > f1) {
            family.keep_best()?;
            best = Some((epoch, dev.macro_f1));
        }
        let best_epoch = best.map_or(0, |(e, _)| e);
        let event = Progress::Epoch {
            epoch,
            train_loss,
            dev_macro_f1: dev.macro_f1,
            dev_report: dev.report,
            best_epoch,
            seconds,
        };
        if steps.send(&event) == Control::Stop {
            stopped = true;
            break;
        }
        if epoch - best_epoch >= config.patience {
            break;
        }
    }

    let best_epoch = match best {
        Some((epoch, _)) => {
            family.restore_best()?;
            epoch
        }
        None => {
            // Stopped inside the first epoch: keep what was learnt so far rather than nothing,
            // with whatever it tunes on dev tuned for it.
            family.tune_on_dev()?;
            0
        }
    };
    let dev = family.evaluate(Split::Dev)?;
    let test = if splits.has_test { Some(family.evaluate(Split::Test)?.report) } else { None };
    family.save(out_dir, best_epoch)?;

    Ok(TrainOutcome {
        best_epoch,
        epochs,
        dev: dev.report,
        test,
        stopped,
        model_dir: out_dir.to_path_buf(),
        n_train: splits.n_train,
        train_seconds: started.elapsed().as_secs_f64(),
        dev_is_train: splits.dev_is_train,
        device: family.device(),
        config: config.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::data::{Example, Target, Task};
    use crate::family::Evaluation;

    /// A family whose "weights" are the number of the epoch last trained, and whose dev macro-F1
    /// after epoch `e` is `dev_f1[e - 1]`: the loop's decisions can be read off the outcome.
    struct Scripted {
        dev_f1: Vec<f64>,
        /// Answer Stop to the step of this epoch.
        stop_in_epoch: Option<usize>,
        steps_per_epoch: usize,
        trained: usize,
        kept: Option<usize>,
        saved: Option<usize>,
    }

    impl Family for Scripted {
        fn steps_per_epoch(&self) -> usize {
            self.steps_per_epoch
        }

        fn run_epoch(&mut self, steps: &mut Steps<'_>) -> Result<Pass> {
            for _ in 0..self.steps_per_epoch {
                if steps.took_step(1, 0.5, true) == Control::Stop {
                    return Ok(Pass::Stopped);
                }
            }
            self.trained += 1;
            Ok(Pass::Finished { train_loss: 1.0 / self.trained as f64 })
        }

        fn tune_on_dev(&mut self) -> Result<Evaluation> {
            self.evaluate(Split::Dev)
        }

        fn keep_best(&mut self) -> Result<()> {
            self.kept = Some(self.trained);
            Ok(())
        }

        fn restore_best(&mut self) -> Result<()> {
            self.trained = self.kept.expect("restore after keep");
            Ok(())
        }

        fn evaluate(&mut self, split: Split) -> Result<Evaluation> {
            let f1 = if self.trained == 0 { 0.0 } else { self.dev_f1[self.trained - 1] };
            let f1 = if split == Split::Test { f1 / 2.0 } else { f1 };
            Ok(Evaluation { macro_f1: f1, report: json!({ "weights_of_epoch": self.trained, "f1": f1 }) })
        }

        fn save(&mut self, _dir: &Path, best_epoch: usize) -> Result<()> {
            self.saved = Some(best_epoch);
            Ok(())
        }

        fn device(&self) -> String {
            "cpu".into()
        }
    }

    fn dataset() -> Dataset {
        let example = |id: &str| Example { id: id.into(), text: "t".into(), target: Target::Single("a".into()) };
        Dataset {
            task: Task::Single,
            labels: vec!["a".into()],
            train: vec![example("1")],
            dev: vec![example("2")],
            test: vec![example("3")],
        }
    }

    /// Runs the scripted dev macro-F1 sequence `dev_f1` with `patience`, stopping on the Step
    /// events of epoch `stop_in_epoch` or on the Epoch event of `stop_after_epoch`, and checks
    /// (epochs run, best epoch, stopped) and what the events and the saved model say.
    fn check(
        dev_f1: &[f64],
        patience: usize,
        stop_in_epoch: Option<usize>,
        stop_after_epoch: Option<usize>,
        expected: (usize, usize, bool),
    ) {
        let config = TrainConfig { epochs: dev_f1.len(), patience, ..TrainConfig::default() };
        let mut family = Scripted {
            dev_f1: dev_f1.to_vec(),
            stop_in_epoch,
            steps_per_epoch: 2,
            trained: 0,
            kept: None,
            saved: None,
        };
        let mut events = Vec::new();
        let stop_in = family.stop_in_epoch;
        let d = dataset();
        let splits = Splits { n_train: d.train.len(), dev_is_train: d.dev.is_empty(), has_test: !d.test.is_empty() };
        let outcome = fit(&mut family, splits, &config, Path::new("unused"), Instant::now(), &mut |p| {
            events.push(p.clone());
            match p {
                Progress::Step { epoch, .. } if Some(*epoch) == stop_in => Control::Stop,
                Progress::Epoch { epoch, .. } if Some(*epoch) == stop_after_epoch => Control::Stop,
                _ => Control::Continue,
            }
        })
        .unwrap();
        let case = format!("{dev_f1:?} patience {patience} stop in {stop_in_epoch:?} after {stop_after_epoch:?}");
        assert_eq!((outcome.epochs.len(), outcome.best_epoch, outcome.stopped), expected, "{case}");
        assert_eq!(family.saved, Some(outcome.best_epoch), "{case}");

        // The kept weights are the ones scored on dev and test (the partial ones when none were kept).
        let kept = if outcome.best_epoch == 0 { family.trained } else { outcome.best_epoch };
        assert_eq!(outcome.dev["weights_of_epoch"], kept, "{case}");
        assert_eq!(outcome.test.as_ref().unwrap()["weights_of_epoch"], kept, "{case}");

        // Each Epoch event names the best epoch so far and its own time, as the summaries do.
        let mut best_so_far = (0, f64::NEG_INFINITY);
        let epoch_events: Vec<&Progress> = events.iter().filter(|p| matches!(p, Progress::Epoch { .. })).collect();
        assert_eq!(epoch_events.len(), outcome.epochs.len(), "{case}");
        for (event, summary) in epoch_events.iter().zip(&outcome.epochs) {
            let Progress::Epoch { epoch, dev_macro_f1, best_epoch, seconds, .. } = event else { unreachable!() };
            if *dev_macro_f1 > best_so_far.1 {
                best_so_far = (*epoch, *dev_macro_f1);
            }
            assert_eq!(*best_epoch, best_so_far.0, "{case}: epoch {epoch}");
            assert_eq!((*epoch, *seconds), (summary.epoch, summary.seconds), "{case}");
        }
        let n_steps = events.iter().filter(|p| matches!(p, Progress::Step { .. })).count();
        let total = events.iter().find_map(|p| match p {
            Progress::Step { total_steps, .. } => Some(*total_steps),
            _ => None,
        });
        assert_eq!(total, Some(2 * dev_f1.len()), "{case}");
        assert!(n_steps >= 2 * outcome.epochs.len(), "{case}");
    }

    #[test]
    fn fit_keeps_the_best_epoch_and_stops_early() {
        // (epochs run, best epoch, stopped)
        check(&[0.5, 0.6, 0.7], 3, None, None, (3, 3, false));
        check(&[0.5, 0.7, 0.6, 0.6, 0.6], 2, None, None, (4, 2, false));
        check(&[0.5, 0.7, 0.6, 0.8, 0.6, 0.6], 2, None, None, (6, 4, false));
        // A tie keeps the earlier epoch and does not reset patience.
        check(&[0.7, 0.7, 0.7, 0.9], 2, None, None, (3, 1, false));
        check(&[0.4, 0.7, 0.7], 1, None, None, (3, 2, false));
        check(&[0.9, 0.1, 0.1], 1, None, None, (2, 1, false));
        // Stop after an epoch's evaluation: the best so far is kept.
        check(&[0.5, 0.8, 0.6, 0.9], 5, None, Some(3), (3, 2, true));
        check(&[0.5, 0.8], 5, None, Some(1), (1, 1, true));
        // Stop during an epoch: that epoch is not evaluated.
        check(&[0.5, 0.8, 0.9], 5, Some(3), None, (2, 2, true));
        // Stop during the first epoch: nothing kept, the partial weights are saved as epoch 0.
        check(&[0.5, 0.8], 5, Some(1), None, (0, 0, true));
    }
}
