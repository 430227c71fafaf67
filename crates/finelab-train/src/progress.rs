//! What the trainer tells its caller while it runs, and the caller's answer: progress events,
//! the stop control, and the step counting every family's epochs share. A leaf module, so that
//! the model families and the loop that drives them can all use it without importing each other.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A progress event sent to the caller while training. Serialized with an `"event"` tag
/// (`{"event": "step", ...}`) so that shells can stream it as JSON lines as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// Some gradient steps were taken.
    Step {
        /// Current epoch, from 1.
        epoch: usize,
        /// Steps taken so far over the whole run, from 1.
        step: usize,
        /// Steps the run takes if it is not stopped early.
        total_steps: usize,
        /// Mean training loss over the current epoch so far.
        loss: f64,
        /// Training examples processed per second.
        samples_per_sec: f64,
        /// Estimated seconds left if every epoch runs (early stopping can only shorten it).
        eta_secs: f64,
        /// Training tokens processed per second (families that count tokens: the generator).
        #[serde(default)]
        tokens_per_sec: Option<f64>,
    },
    /// An epoch ended and was evaluated on the dev split.
    Epoch {
        /// The epoch, from 1.
        epoch: usize,
        /// Mean training loss over the epoch.
        train_loss: f64,
        /// Macro-averaged F1 on dev, the early-stopping criterion.
        dev_macro_f1: f64,
        /// The full dev report (see [`crate::Report::to_json`]).
        dev_report: Value,
        /// The epoch whose weights are kept so far, this one included: equal to `epoch` when this
        /// epoch is the best yet (strictly better dev macro-F1; a tie keeps the earlier epoch).
        #[serde(default)]
        best_epoch: usize,
        /// Seconds the epoch took, evaluation on dev included.
        #[serde(default)]
        seconds: f64,
    },
}

impl Progress {
    /// The Step event of a loop that started at `started` and has seen `n_seen` examples in
    /// `step` of `total_steps` steps: samples/s and the ETA follow from the elapsed time.
    fn step_since(
        started: Instant,
        epoch: usize,
        step: usize,
        total_steps: usize,
        loss: f64,
        n_seen: usize,
        n_tokens: Option<usize>,
    ) -> Progress {
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        Progress::Step {
            epoch,
            step,
            total_steps,
            loss,
            samples_per_sec: n_seen as f64 / elapsed,
            eta_secs: elapsed / step.max(1) as f64 * total_steps.saturating_sub(step) as f64,
            tokens_per_sec: n_tokens.map(|n| n as f64 / elapsed),
        }
    }
}

/// What the progress callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop as soon as possible, keeping the best model so far.
    Stop,
}

/// The longest a training loop goes without a Step event while it takes steps, so that a window
/// shows progress several times a second and a stop request is seen promptly, however long an
/// epoch is.
pub const MAX_STEP_EVENT_GAP: Duration = Duration::from_millis(200);

/// Decides when a loop sends its next Step event: on its own schedule, or when
/// [`MAX_STEP_EVENT_GAP`] has passed since the last one.
struct StepClock {
    last: Instant,
}

impl StepClock {
    fn new() -> StepClock {
        StepClock { last: Instant::now() }
    }

    /// Whether to send an event now; `scheduled` is the loop's own criterion.
    fn due(&mut self, scheduled: bool) -> bool {
        let now = Instant::now();
        if scheduled || now.duration_since(self.last) >= MAX_STEP_EVENT_GAP {
            self.last = now;
            true
        } else {
            false
        }
    }
}

/// The caller's callback as the training loop holds it: a family's epoch reports each optimizer
/// step here, and the run's step and example counts live here rather than in every family, so
/// that Step events mean the same thing whichever family sends them.
pub(crate) struct Steps<'a> {
    progress: &'a mut dyn FnMut(&Progress) -> Control,
    clock: StepClock,
    started: Instant,
    epoch: usize,
    step: usize,
    total_steps: usize,
    n_seen: usize,
    n_tokens: Option<usize>,
}

impl<'a> Steps<'a> {
    /// Starts counting a run of `total_steps` optimizer steps; samples/s and the ETA are
    /// measured from now.
    pub(crate) fn new(progress: &'a mut dyn FnMut(&Progress) -> Control, total_steps: usize) -> Steps<'a> {
        Steps {
            progress,
            clock: StepClock::new(),
            started: Instant::now(),
            epoch: 0,
            step: 0,
            total_steps,
            n_seen: 0,
            n_tokens: None,
        }
    }

    /// Sets the epoch that the following Step events name.
    pub(crate) fn begin_epoch(&mut self, epoch: usize) {
        self.epoch = epoch;
    }

    /// Counts one optimizer step over `n_examples` training examples. A Step event carrying
    /// `loss` (the epoch's mean so far) goes out when `scheduled` says so or when
    /// [`MAX_STEP_EVENT_GAP`] has passed; the answer is the callback's, or
    /// [`Control::Continue`] when no event was sent.
    pub(crate) fn took_step(&mut self, n_examples: usize, loss: f64, scheduled: bool) -> Control {
        self.step += 1;
        self.n_seen += n_examples;
        if !self.clock.due(scheduled) {
            return Control::Continue;
        }
        let event = Progress::step_since(
            self.started,
            self.epoch,
            self.step,
            self.total_steps,
            loss,
            self.n_seen,
            self.n_tokens,
        );
        (self.progress)(&event)
    }

    /// [`Steps::took_step`] for a family that also counts the tokens of its examples: the Step
    /// events then carry tokens per second.
    pub(crate) fn took_step_tokens(
        &mut self,
        n_examples: usize,
        n_tokens: usize,
        loss: f64,
        scheduled: bool,
    ) -> Control {
        *self.n_tokens.get_or_insert(0) += n_tokens;
        self.took_step(n_examples, loss, scheduled)
    }

    /// Sends any other event (the loop's Epoch events) through the same callback.
    pub(crate) fn send(&mut self, event: &Progress) -> Control {
        (self.progress)(event)
    }
}
