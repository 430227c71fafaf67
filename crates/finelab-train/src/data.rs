//! The in-memory dataset the trainer works on. The application builds it from the store; the
//! trainer never sees where it came from.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::Span;

/// The kind of task a project trains for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// One label per record.
    Single,
    /// Any number of labels per record.
    Multi,
    /// Labeled spans inside the text.
    Spans,
}

/// The gold answer of one example; its variant must match the dataset's [`Task`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Single-label target.
    Single(String),
    /// Multi-label target (order does not matter).
    Multi(Vec<String>),
    /// Span target, offsets in code points of `Example::text`.
    Spans(Vec<Span>),
}

/// One labeled record. Dialogs arrive already flattened into "speaker: text" lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The record's stable id.
    pub id: String,
    /// The text to learn from.
    pub text: String,
    /// The gold answer.
    pub target: Target,
}

/// A labeled dataset already split into train, dev and test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// The task.
    pub task: Task,
    /// The label set (entity types for spans), in the project's order.
    pub labels: Vec<String>,
    /// Examples to fit on.
    pub train: Vec<Example>,
    /// Examples for early stopping (and threshold tuning for multi-label).
    pub dev: Vec<Example>,
    /// Held-out examples, evaluated once with the best model.
    pub test: Vec<Example>,
}

impl Dataset {
    /// Checks that the dataset can be trained on: labels declared once, a non-empty train split,
    /// every target of the task's kind, every label declared, every span inside its text.
    pub fn validate(&self) -> Result<()> {
        if self.labels.is_empty() {
            return Err(Error::InvalidDataset("the label set is empty".into()));
        }
        let mut declared = HashSet::new();
        for label in &self.labels {
            if label.is_empty() {
                return Err(Error::InvalidDataset("a label name is empty".into()));
            }
            if !declared.insert(label.as_str()) {
                return Err(Error::DuplicateLabel(label.clone()));
            }
        }
        if self.train.is_empty() {
            return Err(Error::EmptyInput("the train split has no labeled examples".into()));
        }
        for (split, examples) in [("train", &self.train), ("dev", &self.dev), ("test", &self.test)] {
            for example in examples {
                self.validate_example(split, example, &declared)?;
            }
        }
        Ok(())
    }

    fn validate_example(&self, split: &str, example: &Example, declared: &HashSet<&str>) -> Result<()> {
        let context = || format!("{split} example {:?}", example.id);
        let known = |label: &String| -> Result<()> {
            if declared.contains(label.as_str()) {
                Ok(())
            } else {
                Err(Error::UnknownLabel { label: label.clone(), context: context() })
            }
        };
        match (&example.target, self.task) {
            (Target::Single(label), Task::Single) => known(label),
            (Target::Multi(labels), Task::Multi) => labels.iter().try_for_each(known),
            (Target::Spans(spans), Task::Spans) => {
                let n_chars = example.text.chars().count();
                for span in spans {
                    known(&span.label)?;
                    if span.start >= span.end || span.end > n_chars {
                        return Err(Error::InvalidSpan {
                            start: span.start,
                            end: span.end,
                            reason: format!("{}, whose text has {n_chars} code points", context()),
                        });
                    }
                }
                Ok(())
            }
            (_, task) => Err(Error::InvalidDataset(format!(
                "{} has a target of another kind than the dataset's task {task:?}",
                context()
            ))),
        }
    }
}
