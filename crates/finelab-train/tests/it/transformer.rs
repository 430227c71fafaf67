//! The transformer family end to end on tiny BERT models the test makes itself (random weights in
//! Hugging Face's layout, a WordPiece vocabulary from the test corpus): every encoder weight
//! trains, training beats chance on single-label, multi-label and span tasks, the exported folder
//! has Hugging Face's names and loads back with the same outputs, the same seed gives the same
//! model, stop works, and broken model folders give errors that name the file.

use std::path::Path;

use candle_core::{Device, Tensor};
use finelab_train::rng::SplitMix64;

use crate::common;
use common::Rng;
use finelab_train::transformer::model::{BaseModel, Batch, Model};
use finelab_train::transformer::nn::Dropout;
use finelab_train::transformer::params::{read_checkpoint, VarStore};
use finelab_train::transformer::tiny::{write_tiny_bert, TinyFamily, TinySpec};
use finelab_train::transformer::tokenize::TextEncoder;
use finelab_train::{
    train, Control, Dataset, Error, Example, Prediction, Predictor, Progress, Target, Task, TrainConfig, TrainOptions,
    TrainOutcome,
};

const SUBJECTS: &[&str] = &["这个手机", "物流", "客服", "the phone", "this shop", "包装"];
const POSITIVE: &[&str] = &["很好", "非常满意", "推荐购买", "is great", "I love it", "好评"];
const NEGATIVE: &[&str] = &["很差", "太失望了", "要退货", "is terrible", "I hate it", "差评"];

fn sentiment_split(rng: &mut Rng, n: usize, prefix: &str) -> Vec<Example> {
    (0..n)
        .map(|i| {
            let (label, words) = if i % 2 == 0 { ("正面", POSITIVE) } else { ("负面", NEGATIVE) };
            let text = format!("{} {}，{}", *rng.pick(SUBJECTS), *rng.pick(words), *rng.pick(SUBJECTS));
            Example { id: format!("{prefix}{i}"), text, target: Target::Single(label.into()) }
        })
        .collect()
}

fn sentiment() -> Dataset {
    let mut rng = Rng::new(7);
    Dataset {
        task: Task::Single,
        labels: vec!["正面".into(), "负面".into()],
        train: sentiment_split(&mut rng, 96, "tr"),
        dev: sentiment_split(&mut rng, 24, "dv"),
        test: sentiment_split(&mut rng, 40, "te"),
    }
}

const TOPICS: &[(&str, &[&str])] = &[
    ("物流", &["快递很快", "发货太慢", "shipping fast"]),
    ("质量", &["做工精细", "质量不行", "build quality"]),
    ("价格", &["价格便宜", "太贵了", "cheap price"]),
];

fn topics() -> Dataset {
    let mut rng = Rng::new(11);
    let mut split = |n: usize, prefix: &str| -> Vec<Example> {
        (0..n)
            .map(|i| {
                let (mut parts, mut labels) = (vec![], vec![]);
                for (label, phrases) in TOPICS {
                    if rng.below(100) < 45 {
                        parts.push(*rng.pick(phrases));
                        labels.push(label.to_string());
                    }
                }
                parts.push(*rng.pick(&["总之", "anyway", "收到了"]));
                Example { id: format!("{prefix}{i}"), text: parts.join("，"), target: Target::Multi(labels) }
            })
            .collect()
    };
    Dataset {
        task: Task::Multi,
        labels: TOPICS.iter().map(|(l, _)| l.to_string()).collect(),
        train: split(120, "tr"),
        dev: split(30, "dv"),
        test: split(40, "te"),
    }
}

const FILLERS: &[&str] = &["😀", "今天", "👍🏽", "听说", "昨天"];

fn entities() -> Dataset {
    common::entities(3, FILLERS, [100, 25, 40])
}

fn corpus(data: &Dataset) -> Vec<&str> {
    data.train.iter().chain(&data.dev).chain(&data.test).map(|e| e.text.as_str()).collect()
}

fn tiny_model(dir: &Path, data: &Dataset, spec: TinySpec) {
    write_tiny_bert(dir, &corpus(data), &spec).unwrap();
}

fn config(base: &Path, epochs: usize) -> TrainConfig {
    TrainConfig::from_options(&TrainOptions {
        family: Some("transformer".into()),
        base_model: Some(base.to_path_buf()),
        epochs: Some(epochs),
        lr: Some(2e-3),
        batch_size: Some(8),
        max_len: Some(48),
        patience: Some(epochs),
        seed: Some(5),
        device: Some("cpu".into()),
        ..TrainOptions::default()
    })
    .unwrap()
}

fn fit(data: &Dataset, config: &TrainConfig, out: &Path) -> TrainOutcome {
    train(data, config, out, &mut |_| Control::Continue).unwrap()
}

fn macro_f1(report: &serde_json::Value) -> f64 {
    report["macro avg"]["f1-score"].as_f64().unwrap()
}

#[test]
fn every_encoder_variable_gets_a_gradient() {
    let data = sentiment();
    for (task, n_out, prefixed) in [(Task::Single, 2, false), (Task::Spans, 5, true)] {
        let dir = tempfile::tempdir().unwrap();
        tiny_model(dir.path(), &data, TinySpec { prefixed, ..TinySpec::default() });
        let base = BaseModel::open(dir.path()).unwrap();
        let encoder = TextEncoder::load(dir.path(), 32).unwrap();
        let mut store = VarStore::new(&Device::Cpu, 1);
        let model = Model::build(&mut store, &base, task, n_out).unwrap();
        let (checkpoint, path) = read_checkpoint(dir.path()).unwrap();
        let missing = store.load(&checkpoint, &path, "bert.", Model::fresh_prefixes()).unwrap();
        assert!(missing.iter().all(|m| m.contains("pooler")), "{missing:?}");
        let texts: Vec<_> = data.train[..4].iter().map(|e| encoder.encode(&e.text).unwrap()).collect();
        let refs: Vec<_> = texts.iter().collect();
        let batch = Batch::new(&refs, encoder.specials(), 0, &Device::Cpu).unwrap();
        let mut rng = SplitMix64::new(9);
        let logits = model.logits(&batch, &mut Dropout::Train(&mut rng)).unwrap();
        let weights = Tensor::randn(0f32, 1.0, logits.shape(), &Device::Cpu).unwrap();
        let loss = (logits * weights).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let mut n_checked = 0;
        for p in store.params() {
            let g = grads.get(p.var.as_tensor()).unwrap_or_else(|| panic!("{task:?}: {} has no gradient", p.name));
            let size: f32 = g.abs().unwrap().sum_all().unwrap().to_scalar().unwrap();
            assert!(size > 0.0, "{task:?}: {} has an all-zero gradient", p.name);
            n_checked += 1;
        }
        // 5 embedding tensors + 16 per layer × 2 layers + the head.
        assert!(n_checked >= 5 + 16 * 2 + 2, "{n_checked}");
    }
}

#[test]
fn single_label_training_beats_chance_and_exports_a_hugging_face_folder() {
    let data = sentiment();
    let base = tempfile::tempdir().unwrap();
    tiny_model(base.path(), &data, TinySpec::default());
    let out = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    let outcome = train(&data, &config(base.path(), 6), out.path(), &mut |p| {
        events.push(p.clone());
        Control::Continue
    })
    .unwrap();
    let test = outcome.test.as_ref().unwrap();
    assert!(macro_f1(test) > 0.8, "test macro-F1 {} (chance is 0.5): {outcome:?}", macro_f1(test));
    assert!(events.iter().any(|e| matches!(e, Progress::Step { .. })));
    assert_eq!(events.iter().filter(|e| matches!(e, Progress::Epoch { .. })).count(), outcome.epochs.len());
    assert_eq!(outcome.device, "cpu");

    // Hugging Face layout: config with labels and architecture, tokenizer, prefixed names.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["id2label"]["0"], "正面");
    assert_eq!(config["label2id"]["负面"], 1);
    assert_eq!(config["problem_type"], "single_label_classification");
    assert!(out.path().join("tokenizer.json").is_file());
    let tensors = candle_core::safetensors::load(out.path().join("model.safetensors"), &Device::Cpu).unwrap();
    for name in
        ["bert.embeddings.word_embeddings.weight", "bert.pooler.dense.weight", "classifier.weight", "classifier.bias"]
    {
        assert!(tensors.contains_key(name), "{name} missing from model.safetensors");
    }
    assert_eq!(tensors["classifier.weight"].dims(), &[2, 32]);

    // Loads back through the family-agnostic Predictor with the same answers as training saw.
    let predictor = Predictor::load(out.path()).unwrap();
    assert_eq!(predictor.family(), "transformer");
    assert_eq!(predictor.task(), Task::Single);
    let texts: Vec<&str> = data.test.iter().map(|e| e.text.as_str()).collect();
    let batch = predictor.predict_batch(&texts).unwrap();
    let mut correct = 0;
    for (example, p) in data.test.iter().zip(&batch) {
        let Prediction::Single { label, scores } = p else { panic!("{p:?}") };
        assert!((scores.values().sum::<f32>() - 1.0).abs() < 1e-4);
        correct += (Target::Single(label.clone()) == example.target) as usize;
        // One by one gives the same as batched (padding changes nothing).
        let Prediction::Single { scores: alone, .. } = predictor.predict(&example.text) else { panic!() };
        for (k, v) in &alone {
            assert!((v - scores[k]).abs() < 1e-4, "{k}: {v} vs {}", scores[k]);
        }
    }
    let accuracy = test["accuracy"].as_f64().unwrap();
    assert!((correct as f64 / data.test.len() as f64 - accuracy).abs() < 1e-9);
}

#[test]
fn multi_label_training_tunes_thresholds_and_beats_chance() {
    let data = topics();
    let base = tempfile::tempdir().unwrap();
    tiny_model(base.path(), &data, TinySpec { prefixed: true, ..TinySpec::default() });
    let out = tempfile::tempdir().unwrap();
    let outcome = fit(&data, &config(base.path(), 8), out.path());
    let f1 = macro_f1(outcome.test.as_ref().unwrap());
    assert!(f1 > 0.7, "test macro-F1 {f1}: {outcome:?}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("finelab-model.json")).unwrap()).unwrap();
    assert_eq!(meta["thresholds"].as_array().unwrap().len(), 3);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["problem_type"], "multi_label_classification");
    let predictor = Predictor::load(out.path()).unwrap();
    assert!(matches!(predictor.predict("快递很快，太贵了"), Prediction::Multi { .. }));
}

#[test]
fn span_training_finds_entities_at_code_point_offsets() {
    let data = entities();
    let base = tempfile::tempdir().unwrap();
    tiny_model(base.path(), &data, TinySpec::default());
    let out = tempfile::tempdir().unwrap();
    let outcome = fit(&data, &config(base.path(), 8), out.path());
    let f1 = macro_f1(outcome.test.as_ref().unwrap());
    assert!(f1 > 0.6, "test entity macro-F1 {f1}: {outcome:?}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForTokenClassification");
    assert_eq!(config["id2label"]["1"], "B-PER");
    let predictor = Predictor::load(out.path()).unwrap();
    let text = "😀张伟在北京🎉";
    let Prediction::Spans { spans } = predictor.predict(text) else { panic!() };
    let chars: Vec<char> = text.chars().collect();
    for s in &spans {
        assert!(s.start < s.end && s.end <= chars.len(), "{s:?}");
    }
}

#[test]
fn same_seed_same_model_and_stop_keeps_a_model() {
    let data = sentiment();
    let base = tempfile::tempdir().unwrap();
    tiny_model(base.path(), &data, TinySpec::default());
    let cfg = config(base.path(), 1);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (oa, ob) = (fit(&data, &cfg, a.path()), fit(&data, &cfg, b.path()));
    assert_eq!(oa.epochs[0].train_loss, ob.epochs[0].train_loss);
    assert_eq!(
        std::fs::read(a.path().join("model.safetensors")).unwrap(),
        std::fs::read(b.path().join("model.safetensors")).unwrap()
    );

    let stopped = tempfile::tempdir().unwrap();
    let mut steps = 0;
    let outcome = train(&data, &config(base.path(), 5), stopped.path(), &mut |p| {
        if matches!(p, Progress::Step { .. }) {
            steps += 1;
        }
        if steps >= 2 {
            Control::Stop
        } else {
            Control::Continue
        }
    })
    .unwrap();
    assert!(outcome.stopped);
    assert_eq!(outcome.best_epoch, 0);
    Predictor::load(stopped.path()).unwrap();
}

fn load_error(dir: &Path) -> String {
    let data = sentiment();
    let out = tempfile::tempdir().unwrap();
    match train(&data, &config(dir, 1), out.path(), &mut |_| Control::Continue) {
        Ok(_) => panic!("training on {} should fail", dir.display()),
        Err(e) => {
            assert!(matches!(e, Error::ModelFolder { .. } | Error::CorruptModel { .. }), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn broken_model_folders_give_errors_naming_the_file() {
    let data = sentiment();
    let make = || {
        let dir = tempfile::tempdir().unwrap();
        tiny_model(dir.path(), &data, TinySpec::default());
        dir
    };
    let dir = make();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("model.safetensors") && e.contains("pytorch_model.bin"), "{e}");

    let dir = make();
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    assert!(load_error(dir.path()).contains("config.json"));

    let dir = make();
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    std::fs::remove_file(dir.path().join("vocab.txt")).unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("tokenizer.json") && e.contains("vocab.txt"), "{e}");

    let dir = make();
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap().replace("\"bert\"", "\"gpt2\"");
    std::fs::write(&path, text).unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("config.json") && e.contains("gpt2"), "{e}");

    // A tokenizer from another, larger vocabulary.
    let dir = make();
    let other = tempfile::tempdir().unwrap();
    let many: Vec<String> = (0..300).map(|i| format!("word{i}")).collect();
    let refs: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
    write_tiny_bert(other.path(), &refs, &TinySpec::default()).unwrap();
    std::fs::copy(other.path().join("tokenizer.json"), dir.path().join("tokenizer.json")).unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("tokenizer.json") && e.contains("vocab_size"), "{e}");

    // Weights of another shape than config.json says.
    let dir = make();
    let path = dir.path().join("config.json");
    let text =
        std::fs::read_to_string(&path).unwrap().replace("\"intermediate_size\": 64", "\"intermediate_size\": 48");
    std::fs::write(&path, text).unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("model.safetensors") && e.contains("shape"), "{e}");

    // A folder that is not there.
    assert!(load_error(Path::new("/nonexistent/model")).contains("no such model folder"));
}

#[test]
fn xlm_roberta_and_distilbert_layouts_train_and_export_under_their_names() {
    for (family, stem, prefix) in
        [(TinyFamily::XlmRoberta, "XLMRoberta", "roberta."), (TinyFamily::DistilBert, "DistilBert", "distilbert.")]
    {
        let data = sentiment();
        let base = tempfile::tempdir().unwrap();
        tiny_model(base.path(), &data, TinySpec { family, ..TinySpec::default() });
        let out = tempfile::tempdir().unwrap();
        let outcome = fit(&data, &config(base.path(), 6), out.path());
        let f1 = macro_f1(outcome.test.as_ref().unwrap());
        assert!(f1 > 0.8, "{family:?}: test macro-F1 {f1}");
        let hf_config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(hf_config["architectures"][0], format!("{stem}ForSequenceClassification"));
        let tensors = candle_core::safetensors::load(out.path().join("model.safetensors"), &Device::Cpu).unwrap();
        assert!(
            tensors
                .keys()
                .all(|k| k.starts_with(prefix) || k.starts_with("classifier") || k.starts_with("pre_classifier")),
            "{family:?}"
        );
        let predictor = Predictor::load(out.path()).unwrap();
        assert!(matches!(predictor.predict("这个手机 很好"), Prediction::Single { .. }));

        let spans = entities();
        let base = tempfile::tempdir().unwrap();
        tiny_model(base.path(), &spans, TinySpec { family, ..TinySpec::default() });
        let out = tempfile::tempdir().unwrap();
        let outcome = fit(&spans, &config(base.path(), 2), out.path());
        assert_eq!(outcome.epochs.len(), 2);
        let hf_config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(hf_config["architectures"][0], format!("{stem}ForTokenClassification"));
        Predictor::load(out.path()).unwrap();
    }
}

/// Distillation learns the soft targets it is given: one-hot targets of the gold labels train
/// the very model the labels train (the soft cross-entropy of a one-hot target is the
/// cross-entropy), and one-hot targets of the other label teach the student the opposite of
/// its train labels; targets of the wrong width are refused.
#[test]
fn a_student_learns_the_soft_targets_it_is_given() {
    use finelab_train::transformer::distill::SoftTargets;
    let data = sentiment();
    let base = tempfile::tempdir().unwrap();
    tiny_model(base.path(), &data, TinySpec::default());
    let config = config(base.path(), 4);
    let one_hot = |flip: bool| -> SoftTargets {
        data.train
            .iter()
            .map(|e| {
                let Target::Single(l) = &e.target else { panic!() };
                let first = (l == &data.labels[0]) != flip;
                (e.id.clone(), if first { vec![1.0, 0.0] } else { vec![0.0, 1.0] })
            })
            .collect()
    };
    let hard = fit(&data, &config, tempfile::tempdir().unwrap().path());
    let out = tempfile::tempdir().unwrap();
    let same = finelab_train::distill(&data, &one_hot(false), &config, out.path(), &mut |_| Control::Continue).unwrap();
    assert_eq!(same.epochs.len(), hard.epochs.len());
    for (a, b) in same.epochs.iter().zip(&hard.epochs) {
        assert!((a.train_loss - b.train_loss).abs() < 1e-5, "{} vs {}", a.train_loss, b.train_loss);
    }
    assert_eq!(same.test, hard.test);
    // The train labels say one thing, the soft targets the opposite, and dev and test agree with
    // the soft targets: only a student that learns from them scores well.
    let mut opposite = data.clone();
    for e in opposite.dev.iter_mut().chain(opposite.test.iter_mut()) {
        let Target::Single(l) = &e.target else { panic!() };
        let other = if l == &data.labels[0] { &data.labels[1] } else { &data.labels[0] };
        e.target = Target::Single(other.clone());
    }
    let flipped =
        finelab_train::distill(&opposite, &one_hot(true), &config, tempfile::tempdir().unwrap().path(), &mut |_| {
            Control::Continue
        })
        .unwrap();
    let accuracy = |o: &TrainOutcome| o.test.as_ref().unwrap()["accuracy"].as_f64().unwrap();
    assert!(accuracy(&hard) > 0.8 && accuracy(&flipped) > 0.8, "{} / {}", accuracy(&hard), accuracy(&flipped));
    let mut bad = one_hot(false);
    bad.insert(data.train[0].id.clone(), vec![1.0]);
    let err = finelab_train::distill(&data, &bad, &config, out.path(), &mut |_| Control::Continue).unwrap_err();
    assert!(err.to_string().contains("one probability for each"), "{err}");
}
