//! The generator's worker: greedy requests are decoded together in one batch (each row stops at
//! its own `max_tokens` and stop strings), sampled ones alone (one seeded random stream a batch);
//! every new token of a streamed request is decoded and sent as soon as it is whole text.

use std::sync::Arc;

use finelab_train::generator::generate::{generate_ids_with, Finish, GenerateOptions};
use finelab_train::generator::GeneratorModel;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::queue::{next_batch, BatchSettings, Job, Queue};

/// How to sample (none: greedy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sampling {
    /// Softmax temperature, above 0.
    pub(crate) temperature: f64,
    /// Nucleus mass.
    pub(crate) top_p: f64,
    /// Seed of the random stream.
    pub(crate) seed: u64,
}

/// Prompts to continue, how, and where the text goes.
pub(crate) struct GenJob {
    /// Token ids of each prompt (one a choice).
    pub(crate) prompts: Vec<Vec<u32>>,
    /// Most new tokens a choice.
    pub(crate) max_tokens: usize,
    /// Texts that end a choice (left out of it).
    pub(crate) stop: Vec<String>,
    /// `None`: greedy.
    pub(crate) sampling: Option<Sampling>,
    /// Send text as it is generated ([`GenEvent::Delta`]), not only at the end.
    pub(crate) stream: bool,
    /// Where the events go; a closed channel (the client went away) ends the job's rows.
    pub(crate) events: mpsc::UnboundedSender<GenEvent>,
    /// The model's context in tokens.
    pub(crate) context: usize,
}

impl GenJob {
    fn longest_prompt(&self) -> usize {
        self.prompts.iter().map(Vec::len).max().unwrap_or(0)
    }
}

impl Job for GenJob {
    fn size(&self) -> usize {
        self.prompts.len()
    }
    /// Greedy jobs share a batch when the longest prompt of them all and the most tokens any
    /// asks for fit the context (a batch generates as many tokens as the longest prompt leaves).
    fn fits(&self, batch: &[Self]) -> bool {
        let greedy = self.sampling.is_none() && batch.iter().all(|j| j.sampling.is_none());
        let longest = batch.iter().map(GenJob::longest_prompt).chain([self.longest_prompt()]).max().unwrap_or(0);
        let most = batch.iter().map(|j| j.max_tokens).chain([self.max_tokens]).max().unwrap_or(0);
        greedy && longest + most <= self.context
    }
}

/// Why a choice ended, as OpenAI says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinishReason {
    /// The model's end of text, or a stop string.
    Stop,
    /// `max_tokens` (or the model's context) was reached.
    Length,
}

impl FinishReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// What a job hears from the worker.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GenEvent {
    /// More text of choice `index` (streamed jobs only).
    Delta { index: usize, text: String },
    /// Choice `index` is complete: its whole text.
    Done { index: usize, text: String, finish: FinishReason, prompt_tokens: usize, completion_tokens: usize },
    /// The batch failed.
    Failed(ApiError),
}

/// Starts the worker of a generator and returns its queue.
pub(crate) fn spawn_generator(
    name: &str,
    model: Arc<GeneratorModel>,
    settings: BatchSettings,
    capacity: usize,
    metrics: Arc<Metrics>,
) -> Queue<GenJob> {
    let (queue, mut rx) = Queue::<GenJob>::new(name, capacity);
    let name = name.to_string();
    tokio::spawn(async move {
        let (mut carry, mut previous) = (None, 1);
        while let Some(mut jobs) = next_batch(&mut rx, &mut carry, &settings, previous).await {
            previous = jobs.len();
            jobs.retain(|job| !job.events.is_closed());
            if jobs.is_empty() {
                continue;
            }
            metrics.batch(&name, jobs.iter().map(Job::size).sum());
            let model = model.clone();
            let ran = tokio::task::spawn_blocking(move || {
                let result = run_batch(&model, &jobs);
                if let Err(e) = &result {
                    for job in &jobs {
                        let _ = job.events.send(GenEvent::Failed(e.clone()));
                    }
                }
                result
            })
            .await;
            if let Ok(Ok(tokens)) = ran {
                metrics.tokens(&name, tokens);
            }
        }
    });
    queue
}

/// A row's progress while it streams.
#[derive(Default)]
struct Row {
    /// The text sent so far.
    sent: String,
    /// Why the row was ended by the callback (its own limit or stop string, or a gone client).
    ended: Option<FinishReason>,
}

/// Where the first of `stops` begins in `text`.
fn stop_cut(text: &str, stops: &[String]) -> Option<usize> {
    stops.iter().filter(|s| !s.is_empty()).filter_map(|s| text.find(s.as_str())).min()
}

/// The part of `text` that can be sent now: not a trailing replacement character (a character
/// whose bytes are split between tokens) and not the beginning of a stop string at its end.
fn sendable(text: &str, stops: &[String]) -> usize {
    if text.ends_with('\u{FFFD}') {
        return text.len() - '\u{FFFD}'.len_utf8();
    }
    let mut end = text.len();
    for stop in stops {
        for k in (1..stop.len()).rev() {
            if stop.is_char_boundary(k) && text.ends_with(&stop[..k]) {
                end = end.min(text.len() - k);
                break;
            }
        }
    }
    end
}

/// Sends what of `text` (the whole text of the row so far) was not sent yet, up to `end`.
fn send_delta(row: &mut Row, job: &GenJob, index: usize, text: &str, end: usize) {
    if end > row.sent.len() && text.is_char_boundary(end) && text.starts_with(row.sent.as_str()) {
        let delta = &text[row.sent.len()..end];
        let _ = job.events.send(GenEvent::Delta { index, text: delta.to_string() });
        row.sent.push_str(delta);
    }
}

/// Runs `jobs` as one batch; returns the number of tokens generated.
fn run_batch(model: &GeneratorModel, jobs: &[GenJob]) -> Result<usize, ApiError> {
    let rows: Vec<(usize, usize)> =
        jobs.iter().enumerate().flat_map(|(j, job)| (0..job.prompts.len()).map(move |c| (j, c))).collect();
    let prompts: Vec<Vec<u32>> = jobs.iter().flat_map(|job| job.prompts.iter().cloned()).collect();
    let sampling = jobs[0].sampling;
    let options = GenerateOptions {
        max_new_tokens: jobs.iter().map(|j| j.max_tokens).max().unwrap_or(0),
        temperature: sampling.map_or(0.0, |s| s.temperature),
        top_p: sampling.map_or(1.0, |s| s.top_p),
        seed: sampling.map_or(0, |s| s.seed),
        // Each row's stop strings are checked below, row by row.
        stop: Vec::new(),
        use_cache: true,
    };
    let tokenizer = &model.tokenizer;
    let mut state: Vec<Row> = rows.iter().map(|_| Row::default()).collect();
    let mut on_token = |r: usize, ids: &[u32]| -> bool {
        let (j, index) = rows[r];
        let job = &jobs[j];
        let row = &mut state[r];
        if job.events.is_closed() {
            row.ended = Some(FinishReason::Stop);
            return true;
        }
        if job.stream || !job.stop.is_empty() {
            let text = tokenizer.decode(ids).unwrap_or_default();
            if let Some(cut) = stop_cut(&text, &job.stop) {
                if job.stream {
                    send_delta(row, job, index, &text, cut);
                }
                row.ended = Some(FinishReason::Stop);
                return true;
            }
            if job.stream {
                send_delta(row, job, index, &text, sendable(&text, &job.stop));
            }
        }
        if ids.len() >= job.max_tokens {
            row.ended = Some(FinishReason::Length);
            return true;
        }
        false
    };
    let generated =
        generate_ids_with(&model.model, &prompts, &tokenizer.eos_ids, tokenizer.pad_id, &options, &mut on_token)
            .map_err(|e| ApiError::Internal(format!("generation failed: {e}")))?;
    let mut tokens = 0;
    for (r, out) in generated.iter().enumerate() {
        let (j, index) = rows[r];
        let job = &jobs[j];
        let mut text = tokenizer.decode(&out.ids).map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Some(cut) = stop_cut(&text, &job.stop) {
            text.truncate(cut);
        }
        let finish = state[r].ended.unwrap_or(match out.finish {
            Finish::Eos | Finish::Stop => FinishReason::Stop,
            Finish::Length => FinishReason::Length,
        });
        if job.stream {
            let end = text.len();
            send_delta(&mut state[r], job, index, &text, end);
        }
        tokens += out.ids.len();
        let _ = job.events.send(GenEvent::Done {
            index,
            text,
            finish,
            prompt_tokens: prompts[r].len(),
            completion_tokens: out.ids.len(),
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_can_be_sent() {
        let stops = vec!["###".to_string(), "END".to_string()];
        let check = |text: &str, expected: &str| assert_eq!(&text[..sendable(text, &stops)], expected, "{text}");
        check("hello", "hello");
        check("hello #", "hello ");
        check("hello ##", "hello ");
        check("hello EN", "hello ");
        check("hello E", "hello ");
        check("hello \u{FFFD}", "hello ");
        check("你好", "你好");
        assert_eq!(stop_cut("a ### b END", &stops), Some(2));
        assert_eq!(stop_cut("abc", &stops), None);
    }
}
