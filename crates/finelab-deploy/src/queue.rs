//! Dynamic batching: each model has a bounded queue and one worker that takes a request, adds
//! those already waiting (and, for a while, those that come, when the previous batch was larger)
//! up to the batch size, and runs them at once on tokio's blocking pool. A full queue refuses the
//! request at once (429) instead of letting latency grow without bound.

use std::sync::Arc;
use std::time::Duration;

use finelab_train::{Prediction, Predictor};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::metrics::Metrics;

/// How a model's worker forms batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSettings {
    /// Most texts (or sequences) a batch.
    pub(crate) max_batch: usize,
    /// Longest a batch waits for more requests, while fewer came than to the previous batch.
    pub(crate) wait: Duration,
    /// Sleep before each batch (a test hook: it lets a test fill the queue).
    pub(crate) pause: Option<Duration>,
}

/// The sending side of a model's queue.
#[derive(Debug)]
pub(crate) struct Queue<J> {
    tx: mpsc::Sender<J>,
    model: String,
}

impl<J> Queue<J> {
    /// A queue of `capacity` requests for `model` and its receiving end.
    pub(crate) fn new(model: &str, capacity: usize) -> (Queue<J>, mpsc::Receiver<J>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Queue { tx, model: model.to_string() }, rx)
    }

    /// Queues `job`, or refuses it: 429 when the queue is full, 503 when the worker has ended.
    pub(crate) fn submit(&self, job: J) -> Result<(), ApiError> {
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => ApiError::QueueFull(self.model.clone()),
            TrySendError::Closed(_) => ApiError::ShuttingDown,
        })
    }

    /// Requests waiting now.
    pub(crate) fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Requests the queue holds.
    pub(crate) fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }
}

/// A job a batch can hold: its size in texts or sequences, and whether it may join a batch.
pub(crate) trait Job: Sized {
    /// Texts or sequences.
    fn size(&self) -> usize;
    /// Whether this job can run in one batch with `batch`.
    fn fits(&self, batch: &[Self]) -> bool;
}

/// Takes the next batch: `carry` (a job a batch left over) or the next job, then the jobs that
/// fit behind it, waiting up to `settings.wait` for more while the batch has fewer requests than
/// the previous one (`previous`): one client waits for nobody, many clients are served together.
/// `None` once the queue is closed and empty.
pub(crate) async fn next_batch<J: Job>(
    rx: &mut mpsc::Receiver<J>,
    carry: &mut Option<J>,
    settings: &BatchSettings,
    previous: usize,
) -> Option<Vec<J>> {
    let first = match carry.take() {
        Some(job) => job,
        None => rx.recv().await?,
    };
    let mut size = first.size();
    let mut batch = vec![first];
    let deadline = tokio::time::Instant::now() + settings.wait;
    while size < settings.max_batch {
        let next = match rx.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) if batch.len() >= previous => break,
            Err(TryRecvError::Empty) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(job)) => job,
                _ => break,
            },
        };
        if !next.fits(&batch) || size + next.size() > settings.max_batch {
            *carry = Some(next);
            break;
        }
        size += next.size();
        batch.push(next);
    }
    if let Some(pause) = settings.pause {
        tokio::time::sleep(pause).await;
    }
    Some(batch)
}

/// Texts to classify or tag, and where their predictions go.
pub(crate) struct PredictJob {
    /// The texts.
    pub(crate) texts: Vec<String>,
    /// One prediction a text, in order.
    pub(crate) reply: oneshot::Sender<Result<Vec<Prediction>, ApiError>>,
}

impl Job for PredictJob {
    fn size(&self) -> usize {
        self.texts.len()
    }
    fn fits(&self, _: &[Self]) -> bool {
        true
    }
}

/// Starts the worker of a classifier or tagger and returns its queue.
pub(crate) fn spawn_predictor(
    name: &str,
    model: Arc<Predictor>,
    settings: BatchSettings,
    capacity: usize,
    metrics: Arc<Metrics>,
    on_served: Option<crate::ServedHook>,
) -> Queue<PredictJob> {
    let (queue, mut rx) = Queue::<PredictJob>::new(name, capacity);
    let name = name.to_string();
    tokio::spawn(async move {
        let (mut carry, mut previous) = (None, 1);
        while let Some(mut jobs) = next_batch(&mut rx, &mut carry, &settings, previous).await {
            previous = jobs.len();
            // A client that went away while its request waited costs nothing more.
            jobs.retain(|job| !job.reply.is_closed());
            if jobs.is_empty() {
                continue;
            }
            let sizes: Vec<usize> = jobs.iter().map(|j| j.texts.len()).collect();
            let texts: Vec<String> = jobs.iter_mut().flat_map(|j| std::mem::take(&mut j.texts)).collect();
            metrics.batch(&name, texts.len());
            let model = model.clone();
            let name = name.clone();
            let on_served = on_served.clone();
            let predicted = tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let predicted = model.predict_batch(&refs);
                if let (Ok(predictions), Some(hook)) = (&predicted, &on_served) {
                    (hook.0)(&name, &texts, predictions);
                }
                predicted
            })
            .await;
            match predicted {
                Ok(Ok(predictions)) => {
                    let mut predictions = predictions.into_iter();
                    for (job, n) in jobs.into_iter().zip(sizes) {
                        let _ = job.reply.send(Ok(predictions.by_ref().take(n).collect()));
                    }
                }
                Ok(Err(e)) => {
                    for job in jobs {
                        let _ = job.reply.send(Err(ApiError::Internal(format!("the model failed: {e}"))));
                    }
                }
                Err(e) => {
                    for job in jobs {
                        let _ = job.reply.send(Err(ApiError::Internal(format!("the model failed: {e}"))));
                    }
                }
            }
        }
    });
    queue
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Texts(usize, bool);
    impl Job for Texts {
        fn size(&self) -> usize {
            self.0
        }
        fn fits(&self, batch: &[Self]) -> bool {
            self.1 && batch.iter().all(|t| t.1)
        }
    }

    #[tokio::test]
    async fn batches_take_what_waits_up_to_the_size() {
        let settings = BatchSettings { max_batch: 8, wait: Duration::from_millis(1), pause: None };
        let (queue, mut rx) = Queue::new("m", 16);
        for (n, fits) in [(3, true), (4, true), (2, true), (1, true), (1, false), (1, true)] {
            queue.submit(Texts(n, fits)).unwrap();
        }
        assert_eq!(queue.depth(), 6);
        let mut carry = None;
        let sizes = |b: Vec<Texts>| b.iter().map(|t| t.0).collect::<Vec<_>>();
        // 3 + 4 fit in 8, 2 more would not: it starts the next batch.
        assert_eq!(sizes(next_batch(&mut rx, &mut carry, &settings, 1).await.unwrap()), [3, 4]);
        // A job that cannot share a batch ends it.
        assert_eq!(sizes(next_batch(&mut rx, &mut carry, &settings, 1).await.unwrap()), [2, 1]);
        assert_eq!(sizes(next_batch(&mut rx, &mut carry, &settings, 1).await.unwrap()), [1]);
        assert_eq!(sizes(next_batch(&mut rx, &mut carry, &settings, 1).await.unwrap()), [1]);
        drop(queue);
        assert!(next_batch(&mut rx, &mut carry, &settings, 1).await.is_none());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_a_closed_one_is_shutting_down() {
        let (queue, rx) = Queue::new("m", 1);
        queue.submit(Texts(1, true)).unwrap();
        assert_eq!(queue.submit(Texts(1, true)).unwrap_err(), ApiError::QueueFull("m".into()));
        drop(rx);
        assert_eq!(queue.submit(Texts(1, true)).unwrap_err(), ApiError::ShuttingDown);
    }
}
