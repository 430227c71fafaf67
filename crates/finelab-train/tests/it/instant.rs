//! The `instant` family end to end: training on small Chinese + English datasets, span offsets
//! on Chinese and emoji, save → load, stop, determinism and broken model folders.

use std::path::Path;

use crate::common;
use common::Rng;
use finelab_train::metrics::{multi_label_report, single_label_report_with_labels, span_report};

use finelab_train::{
    train, Control, Dataset, Error, Example, Prediction, Predictor, Progress, Span, Target, Task, TrainConfig,
    TrainOptions, TrainOutcome,
};

const SUBJECTS: &[&str] = &["这个手机", "物流", "客服", "the phone", "this shop", "包装", "the screen", "电池"];
const POSITIVE: &[&str] =
    &["很好", "非常满意", "推荐购买", "is great", "I love it", "超级喜欢", "excellent quality", "好评"];
const NEGATIVE: &[&str] =
    &["很差", "太失望了", "要退货", "is terrible", "I hate it", "质量垃圾", "broken on arrival", "差评"];
const NEUTRAL: &[&str] =
    &["还行吧", "一般般", "收到了", "is ok", "arrived today", "没什么特别", "as described", "中规中矩"];

fn sentiment_split(rng: &mut Rng, n: usize, prefix: &str) -> Vec<Example> {
    (0..n)
        .map(|i| {
            let (label, words) = match i % 3 {
                0 => ("正面", POSITIVE),
                1 => ("负面", NEGATIVE),
                _ => ("neutral", NEUTRAL),
            };
            let text = format!("{} {}，{}", *rng.pick(SUBJECTS), *rng.pick(words), *rng.pick(SUBJECTS));
            Example { id: format!("{prefix}{i}"), text, target: Target::Single(label.into()) }
        })
        .collect()
}

fn sentiment() -> Dataset {
    let mut rng = Rng::new(7);
    Dataset {
        task: Task::Single,
        labels: vec!["正面".into(), "负面".into(), "neutral".into()],
        train: sentiment_split(&mut rng, 120, "tr"),
        dev: sentiment_split(&mut rng, 30, "dv"),
        test: sentiment_split(&mut rng, 60, "te"),
    }
}

const TOPICS: &[(&str, &[&str])] = &[
    ("物流", &["快递很快", "发货太慢", "shipping was fast", "delivery late"]),
    ("质量", &["做工精细", "质量不行", "build quality", "cracked screen"]),
    ("价格", &["价格便宜", "太贵了", "cheap price", "overpriced"]),
];

fn topics_split(rng: &mut Rng, n: usize, prefix: &str) -> Vec<Example> {
    (0..n)
        .map(|i| {
            let mut parts = vec![];
            let mut labels = vec![];
            for (label, phrases) in TOPICS {
                if rng.percent(45) {
                    parts.push(*rng.pick(phrases));
                    labels.push(label.to_string());
                }
            }
            parts.push(*rng.pick(&["总之", "anyway", "收到了"]));
            Example { id: format!("{prefix}{i}"), text: parts.join("，"), target: Target::Multi(labels) }
        })
        .collect()
}

fn topics() -> Dataset {
    let mut rng = Rng::new(11);
    Dataset {
        task: Task::Multi,
        labels: TOPICS.iter().map(|(l, _)| l.to_string()).collect(),
        train: topics_split(&mut rng, 150, "tr"),
        dev: topics_split(&mut rng, 40, "dv"),
        test: topics_split(&mut rng, 60, "te"),
    }
}

const FILLERS: &[&str] = &["😀", "今天", "👍🏽", "听说", "", "昨天"];

fn entities() -> Dataset {
    common::entities(3, FILLERS, [120, 30, 40])
}

fn config(json: &str) -> TrainConfig {
    let options: TrainOptions = serde_json::from_str(json).unwrap();
    TrainConfig::from_options(&options).unwrap()
}

fn run(dataset: &Dataset, config: &TrainConfig, dir: &Path) -> TrainOutcome {
    train(dataset, config, dir, &mut |_| Control::Continue).unwrap()
}

fn f1(report: &serde_json::Value, row: &str) -> f64 {
    report[row]["f1-score"].as_f64().unwrap()
}

#[test]
fn single_label_beats_majority_and_reloads() {
    let dataset = sentiment();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(&dataset, &config("{}"), dir.path());
    let test = outcome.test.as_ref().unwrap();
    // The majority class gets a third of the test set right here; the model must do far better.
    assert!(test["accuracy"].as_f64().unwrap() >= 0.9, "{test}");
    assert!(f1(test, "macro avg") >= 0.9, "{test}");
    assert_eq!(outcome.device, "cpu");
    assert!(outcome.best_epoch >= 1 && outcome.best_epoch <= outcome.epochs.len());

    // The saved model gives the very report training computed.
    let predictor = Predictor::load(dir.path()).unwrap();
    let pred: Vec<String> = dataset
        .test
        .iter()
        .map(|e| match predictor.predict(&e.text) {
            Prediction::Single { label, scores } => {
                let total: f32 = scores.values().sum();
                assert!((total - 1.0).abs() < 1e-4);
                label
            }
            other => panic!("{other:?}"),
        })
        .collect();
    let gold: Vec<String> = dataset
        .test
        .iter()
        .map(|e| match &e.target {
            Target::Single(l) => l.clone(),
            _ => unreachable!(),
        })
        .collect();
    let report = single_label_report_with_labels(&gold, &pred, &dataset.labels).unwrap();
    assert_eq!(&report.to_json(), test);

    let json = serde_json::to_value(predictor.predict("物流很好")).unwrap();
    assert!(json["label"].is_string() && json["scores"].is_object(), "{json}");
}

#[test]
fn multi_label_learns_topics() {
    let dataset = topics();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(&dataset, &config("{}"), dir.path());
    let test = outcome.test.as_ref().unwrap();
    assert!(f1(test, "micro avg") >= 0.9, "{test}");
    assert!(test.get("samples avg").is_some());

    let predictor = Predictor::load(dir.path()).unwrap();
    let mut gold = vec![];
    let mut pred = vec![];
    for example in &dataset.test {
        let Target::Multi(labels) = &example.target else { unreachable!() };
        gold.push(labels.clone());
        match predictor.predict(&example.text) {
            Prediction::Multi { labels, .. } => pred.push(labels),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(&multi_label_report(&gold, &pred, &dataset.labels).unwrap().to_json(), test);
}

#[test]
fn span_tagger_finds_entities_at_code_point_offsets() {
    let dataset = entities();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(&dataset, &config("{}"), dir.path());
    let test = outcome.test.as_ref().unwrap();
    assert!(f1(test, "micro avg") >= 0.9, "{test}");

    let predictor = Predictor::load(dir.path()).unwrap();
    // Emoji before the entities: byte or UTF-16 offsets would land elsewhere.
    let check = |text: &str, expected: &[(&str, &str)]| {
        let Prediction::Spans { spans } = predictor.predict(text) else { panic!() };
        let chars: Vec<char> = text.chars().collect();
        let found: Vec<(String, String)> =
            spans.iter().map(|s| (chars[s.start..s.end].iter().collect(), s.label.clone())).collect();
        let expected: Vec<(String, String)> = expected.iter().map(|(t, l)| (t.to_string(), l.to_string())).collect();
        assert_eq!(found, expected, "{text}: {spans:?}");
        assert!(spans.iter().all(|s| (0.0..=1.0).contains(&s.score)));
    };
    check("👍🏽张伟在北京工作", &[("张伟", "PER"), ("北京", "LOC")]);
    check("😀李娜去了上海🎉", &[("李娜", "PER"), ("上海", "LOC")]);
    check("", &[]);

    let Prediction::Spans { spans } = predictor.predict("😀😀张伟在北京工作") else { panic!() };
    let spans: Vec<Span> = spans.into_iter().map(|s| s.into_span()).collect();
    assert_eq!(spans, vec![Span::new(2, 4, "PER"), Span::new(5, 7, "LOC")]);
    let json = serde_json::to_value(&spans[0]).unwrap();
    assert_eq!(json, serde_json::json!({"start": 2, "end": 4, "label": "PER"}));

    // The saved model reproduces the test report of training.
    let gold: Vec<Vec<Span>> = dataset
        .test
        .iter()
        .map(|e| match &e.target {
            Target::Spans(s) => s.clone(),
            _ => unreachable!(),
        })
        .collect();
    let pred: Vec<Vec<Span>> = dataset
        .test
        .iter()
        .map(|e| match predictor.predict(&e.text) {
            Prediction::Spans { spans } => spans.into_iter().map(|s| s.into_span()).collect(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(&span_report(&gold, &pred).unwrap().to_json(), test);
}

#[test]
fn same_seed_same_model() {
    for dataset in [sentiment(), topics(), entities()] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cfg = config(r#"{"seed": 5, "epochs": 4}"#);
        let first = run(&dataset, &cfg, a.path());
        let second = run(&dataset, &cfg, b.path());
        let weights = |dir: &Path| std::fs::read(dir.join("weights.bin")).unwrap();
        assert!(weights(a.path()) == weights(b.path()), "{:?}", dataset.task);
        assert_eq!(first.dev, second.dev);
        assert_eq!(first.test, second.test);
        let losses = |o: &TrainOutcome| o.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>();
        assert_eq!(losses(&first), losses(&second));
    }
}

#[test]
fn stop_is_honoured() {
    let dataset = sentiment();
    // Stop at the very first step: nothing evaluated yet, the partial model is still saved.
    let dir = tempfile::tempdir().unwrap();
    let mut events = 0;
    let outcome = train(&dataset, &config("{}"), dir.path(), &mut |_| {
        events += 1;
        Control::Stop
    })
    .unwrap();
    assert!(outcome.stopped);
    assert_eq!(events, 1);
    assert!(outcome.epochs.is_empty());
    assert_eq!(outcome.best_epoch, 0);
    Predictor::load(dir.path()).unwrap();

    // Stop after the first epoch's evaluation: that epoch is kept.
    let dir = tempfile::tempdir().unwrap();
    let outcome = train(&dataset, &config("{}"), dir.path(), &mut |event| match event {
        Progress::Epoch { .. } => Control::Stop,
        Progress::Step { .. } => Control::Continue,
    })
    .unwrap();
    assert!(outcome.stopped);
    assert_eq!(outcome.epochs.len(), 1);
    assert_eq!(outcome.best_epoch, 1);
}

#[test]
fn progress_events_and_early_stopping() {
    let dataset = sentiment();
    let dir = tempfile::tempdir().unwrap();
    let mut events = vec![];
    let outcome = train(&dataset, &config(r#"{"epochs": 200, "patience": 2}"#), dir.path(), &mut |event| {
        events.push(serde_json::to_value(event).unwrap());
        Control::Continue
    })
    .unwrap();
    // The dev set is learnt perfectly long before 200 epochs; patience ends the run.
    assert!(outcome.epochs.len() < 200, "{}", outcome.epochs.len());
    assert_eq!(outcome.epochs.len() - outcome.best_epoch, 2);
    assert!(!outcome.stopped);
    let steps = events.iter().filter(|e| e["event"] == "step").count();
    let epochs: Vec<_> = events.iter().filter(|e| e["event"] == "epoch").collect();
    assert!(steps >= outcome.epochs.len());
    assert_eq!(epochs.len(), outcome.epochs.len());
    assert!(epochs[0]["dev_report"]["macro avg"].is_object());
    let step = events.iter().find(|e| e["event"] == "step").unwrap();
    for key in ["epoch", "step", "total_steps", "loss", "samples_per_sec", "eta_secs"] {
        assert!(step.get(key).is_some(), "{key} missing in {step}");
    }
}

#[test]
fn empty_dev_falls_back_to_train() {
    let mut dataset = sentiment();
    dataset.dev.clear();
    dataset.test.clear();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(&dataset, &config(r#"{"epochs": 3}"#), dir.path());
    assert!(outcome.dev_is_train);
    assert!(outcome.test.is_none());
}

#[test]
fn bad_datasets_are_refused() {
    let check = |edit: &dyn Fn(&mut Dataset), fragment: &str| {
        let mut dataset = entities();
        edit(&mut dataset);
        let dir = tempfile::tempdir().unwrap();
        let error = train(&dataset, &TrainConfig::default(), dir.path(), &mut |_| Control::Continue).unwrap_err();
        assert!(error.to_string().contains(fragment), "{error}");
    };
    check(&|d| d.train.clear(), "train split");
    check(&|d| d.labels.clear(), "label set is empty");
    check(&|d| d.labels.push("PER".into()), "more than once");
    check(&|d| d.dev[0].target = Target::Spans(vec![Span::new(0, 99, "PER")]), "code points");
    check(&|d| d.test[0].target = Target::Spans(vec![Span::new(0, 1, "ORG")]), "unknown label \"ORG\"");
    check(&|d| d.train[0].target = Target::Single("PER".into()), "another kind");
}

#[test]
fn broken_model_folders_name_the_file() {
    let missing = tempfile::tempdir().unwrap();
    let error = Predictor::load(missing.path()).unwrap_err();
    assert!(matches!(error, Error::Io { .. }));
    assert!(error.to_string().contains("finelab-model.json"), "{error}");

    let dir = tempfile::tempdir().unwrap();
    run(&sentiment(), &config(r#"{"epochs": 1, "hash_bits": 12}"#), dir.path());
    let weights = dir.path().join("weights.bin");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() - 4]).unwrap();
    let error = Predictor::load(dir.path()).unwrap_err();
    assert!(matches!(error, Error::CorruptModel { .. }));
    assert!(error.to_string().contains("weights.bin"), "{error}");

    std::fs::write(dir.path().join("finelab-model.json"), "{not json").unwrap();
    let error = Predictor::load(dir.path()).unwrap_err();
    assert!(error.to_string().contains("finelab-model.json"), "{error}");
}
