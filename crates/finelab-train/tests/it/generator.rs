//! The generator family end to end on tiny causal LMs the test makes itself (random weights in
//! Hugging Face's layout, a byte-level BPE trained on the test's sentences, a ChatML template):
//! every LoRA weight gets a gradient and no base weight moves; a tiny Qwen2 and a tiny Llama learn
//! a deterministic transformation of real sentences to near-zero loss through the one training
//! loop and then generate the exact targets from the saved folder; greedy decoding with the
//! key/value cache equals decoding by recomputing; the chat template renders the model's own
//! turns with the loss on the target only, and truncation keeps the latest turns; the PEFT
//! adapter has PEFT's names and the merged folder gives the adapter's logits; GGUF exports
//! (`q8_0`, `q4_K_M`) read back by llama.cpp's `gguf` package hold the folder's tokenizer,
//! template and weights, and Finelab's quantized generation still answers the rule.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use finelab_train::generator::generate::{Finish, GenerateOptions};
use finelab_train::generator::gguf::GgufQuant;
use finelab_train::generator::model::{causal_mask, read_weights, Arch, BaseModel, CausalLm, LoraSpec, Tuning};
use finelab_train::generator::template::{ChatTemplate, ChatTokenizer, Message};
use finelab_train::generator::tiny::{make_tiny_model, write_tiny_generator, TinyGenSpec};
use finelab_train::generator::{
    chunked_loss, export, quantize_gguf, train, ChatDataset, ChatExample, GeneratorModel, Trainer,
};
use finelab_train::transformer::nn::Dropout;
use finelab_train::{Control, Progress, TrainConfig, TrainOptions};

/// Real sentences (English proverbs and everyday Chinese), and the rule the model learns: the
/// words in reverse order after a fixed prefix.
const SENTENCES: &[&str] = &[
    "the early bird catches the worm",
    "actions speak louder than words",
    "practice makes perfect",
    "time and tide wait for no man",
    "all that glitters is not gold",
    "knowledge is power",
    "今天 天气 很好",
    "我们 明天 见",
];

fn transform(sentence: &str) -> String {
    let words: Vec<&str> = sentence.split(' ').rev().collect();
    format!("reversed: {}", words.join(" "))
}

fn examples() -> Vec<ChatExample> {
    SENTENCES
        .iter()
        .enumerate()
        .map(|(i, s)| ChatExample {
            id: format!("e{i}"),
            messages: vec![Message::new("user", s)],
            target: transform(s),
        })
        .collect()
}

/// A corpus for the tokenizer: the sentences, their targets and the template's own words.
fn corpus(dir: &Path) -> PathBuf {
    let mut text = String::new();
    for _ in 0..3 {
        for s in SENTENCES {
            text.push_str(&format!("{s}\n{}\nsystem user assistant You are a helpful assistant.\n", transform(s)));
        }
    }
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text).unwrap();
    path
}

fn tiny(dir: &Path, arch: Arch) -> PathBuf {
    let out = dir.join(format!("{arch:?}"));
    make_tiny_model(&out, arch, &corpus(dir), 3).unwrap();
    out
}

/// The test's training options, `extra` (a JSON object) overriding them.
fn config(base: &Path, extra: &str) -> TrainConfig {
    let mut options = serde_json::json!({
        "family": "generator", "base_model": base, "device": "cpu", "lr": 0.01, "batch_size": 8,
        "warmup_ratio": 0, "max_grad_norm": 1.0, "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0,
    });
    let extra: serde_json::Value = serde_json::from_str(extra).unwrap();
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    TrainConfig::from_options(&serde_json::from_value::<TrainOptions>(options).unwrap()).unwrap()
}

fn values(t: &candle_core::Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn every_lora_weight_gets_a_gradient_and_no_base_weight_moves() {
    let dir = tempfile::tempdir().unwrap();
    for arch in [Arch::Qwen2, Arch::Qwen3, Arch::Llama] {
        let base = tiny(dir.path(), arch);
        let dataset = ChatDataset { train: examples(), ..ChatDataset::default() };
        let config = config(&base, "{}");
        let mut trainer = Trainer::new(&dataset, &config).unwrap();
        let before: Vec<(String, Vec<f32>)> =
            trainer.model().base_weights().iter().map(|(n, t)| (n.clone(), values(t))).collect();
        let n_layers = 2;
        assert_eq!(trainer.model().params().len(), n_layers * 7 * 2, "{arch:?}: A and B on 7 projections a layer");
        // B starts at zero, so A's first gradient is zero (as in PEFT); after one step both move.
        trainer.step_on(&[0, 1, 2, 3]).unwrap();
        let (_, grads) = trainer.step_on(&[4, 5, 6, 7]).unwrap();
        for (p, g) in trainer.model().params().iter().zip(&grads) {
            let g = g.as_ref().unwrap_or_else(|| panic!("{arch:?}: {} has no gradient", p.name));
            let norm: f32 = values(g).iter().map(|v| v * v).sum();
            assert!(norm > 0.0, "{arch:?}: {} has a zero gradient", p.name);
            assert!(p.name.starts_with("base_model.model.model.layers."), "{}", p.name);
        }
        for _ in 0..3 {
            trainer.step_on(&[0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        }
        let after = trainer.model().base_weights();
        assert_eq!(before.len(), after.len());
        for ((name, b), (_, a)) in before.iter().zip(&after) {
            assert!(!a.is_variable(), "{arch:?}: base weight {name} is a variable");
            assert_eq!(b, &values(a), "{arch:?}: base weight {name} changed");
        }
    }
}

#[test]
fn tiny_generators_learn_the_rule_and_generate_the_exact_targets() {
    let dir = tempfile::tempdir().unwrap();
    for arch in [Arch::Qwen2, Arch::Llama] {
        let base = tiny(dir.path(), arch);
        let dataset = ChatDataset { train: examples(), dev: examples(), test: examples()[..2].to_vec() };
        let training = config(&base, r#"{"epochs":60,"patience":60}"#);
        let out = dir.path().join(format!("{arch:?}-run"));
        let mut n_steps = 0;
        let outcome = train(&dataset, &training, &out, &mut |p| {
            match p {
                Progress::Step { .. } => n_steps += 1,
                Progress::Epoch { dev_report, .. } => {
                    assert!(dev_report["train_tokens_per_sec"].as_f64().unwrap() > 0.0)
                }
            }
            Control::Continue
        })
        .unwrap();
        let dev_loss = outcome.dev["loss"].as_f64().unwrap();
        assert!(dev_loss < 0.05, "{arch:?}: dev loss {dev_loss} after {:?}", outcome.epochs.last());
        assert!(outcome.dev["perplexity"].as_f64().unwrap() < 1.06);
        assert!(outcome.test.is_some());
        assert_eq!(n_steps, 60);

        let model = GeneratorModel::load(&out).unwrap();
        let dialogs: Vec<Vec<Message>> = examples().into_iter().map(|e| e.messages).collect();
        let answers = model.generate(&dialogs, &GenerateOptions { max_new_tokens: 40, ..Default::default() }).unwrap();
        let expected: Vec<String> = SENTENCES.iter().map(|s| transform(s)).collect();
        assert_eq!(answers, expected, "{arch:?}");

        // A stop string ends the answer before it; max_new_tokens ends it after that many.
        let first = &dialogs[..1];
        let stopped = GenerateOptions { max_new_tokens: 40, stop: vec!["catches".into()], ..Default::default() };
        assert_eq!(model.generate(first, &stopped).unwrap(), vec!["reversed: worm the ".to_string()]);
        let short = GenerateOptions { max_new_tokens: 3, ..Default::default() };
        let generated = model.generate_ids(&model.prompt_ids(first).unwrap(), &short).unwrap();
        assert_eq!((generated[0].ids.len(), generated[0].finish), (3, Finish::Length));
        let whole = model.generate_ids(&model.prompt_ids(first).unwrap(), &Default::default()).unwrap();
        assert_eq!(whole[0].finish, Finish::Eos);

        // Quantized to q8_0 (GGUF beside it), the model still answers the rule exactly, and
        // llama.cpp's reader finds the file it expects.
        let q8 = dir.path().join(format!("{arch:?}-q8_0"));
        let scored = quantize_gguf(&dataset, &config(&out, "{}"), &q8, GgufQuant::Q8_0).unwrap();
        assert_eq!((scored.best_epoch, scored.epochs.len()), (0, 0));
        let q8_loss = scored.dev["loss"].as_f64().unwrap();
        assert!(q8_loss < 0.1 && (q8_loss - dev_loss).abs() < 0.05, "{arch:?}: q8_0 dev loss {q8_loss} vs {dev_loss}");
        let quantized = GeneratorModel::load(&q8).unwrap();
        assert_eq!(GeneratorModel::quantization(&q8), Some(GgufQuant::Q8_0));
        assert_ne!(
            quantized.logits(&model.prompt_ids(first).unwrap()[0]).unwrap(),
            model.logits(&model.prompt_ids(first).unwrap()[0]).unwrap(),
            "{arch:?}: quantized logits are the f32 ones"
        );
        let answers =
            quantized.generate(&dialogs, &GenerateOptions { max_new_tokens: 40, ..Default::default() }).unwrap();
        assert_eq!(answers, expected, "{arch:?} q8_0");
        let report = check_gguf(&q8.join("model-q8_0.gguf"), &q8);
        // 7 matrices a layer, the embedding, and the output layer unless tied (the tiny Llama).
        let untied = usize::from(arch == Arch::Llama);
        assert_eq!(report["kinds"]["Q8_0"], 2 * 7 + 1 + untied, "{arch:?}: {report}");
        // Quantized twice is refused.
        let again = quantize_gguf(&dataset, &config(&q8, "{}"), &dir.path().join("again"), GgufQuant::Q8_0);
        assert!(again.unwrap_err().to_string().contains("quantized to q8_0 already"));
    }
}

/// What Finelab decodes from a GGUF file (every tensor dequantized by candle), written beside it
/// by GGUF name; then `scripts/reference/check_gguf.py` reads the file with llama.cpp's `gguf`
/// package and checks it against the model folder. Returns the script's summary.
fn check_gguf(file: &Path, model_dir: &Path) -> serde_json::Value {
    use candle_core::quantized::gguf_file;
    let mut f = std::fs::File::open(file).unwrap();
    let content = gguf_file::Content::read(&mut f).unwrap();
    let mut decoded = std::collections::HashMap::new();
    for name in content.tensor_infos.keys() {
        let t = content.tensor(&mut f, name, &Device::Cpu).unwrap().dequantize(&Device::Cpu).unwrap();
        decoded.insert(name.clone(), t);
    }
    let decoded_path = file.with_extension("decoded.safetensors");
    candle_core::safetensors::save(&decoded, &decoded_path).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python =
        std::env::var("FINELAB_PYTHON").unwrap_or_else(|_| root.join(".venv/bin/python").display().to_string());
    let output = std::process::Command::new(&python)
        .arg(root.join("scripts/reference/check_gguf.py"))
        .args([file, model_dir, &decoded_path])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (set FINELAB_PYTHON to a Python with gguf): {e}"));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "check_gguf.py printed no JSON under {python} (./scripts/setup.sh installs gguf):\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(output.status.success(), "{}: {report}", file.display());
    report
}

fn logits_correlation(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) =
        a.iter().flatten().zip(b.iter().flatten()).map(|(p, q)| (*p as f64, *q as f64)).unzip();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(&y).map(|(p, q)| (p - mx) * (q - my)).sum();
    let vx: f64 = x.iter().map(|p| (p - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|q| (q - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// Rows of 256 values fill the k-quants' super-blocks: q4_K_M writes Q4_K and Q6_K where llama.cpp
/// does (Qwen3's per-head norms and a Llama's interleaved query and key rows included), and the
/// quantized model's logits follow the f32 model's.
#[test]
fn gguf_q4_k_m_uses_k_quants_and_keeps_the_logits() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    for arch in [Arch::Qwen3, Arch::Llama] {
        let base = dir.path().join(format!("{arch:?}-256"));
        write_tiny_generator(&base, &corpus, &TinyGenSpec::sized(arch, 256, 2, 400, 11)).unwrap();
        let dataset = ChatDataset { train: examples(), dev: examples()[..4].to_vec(), test: examples()[4..].to_vec() };
        let f32_model = GeneratorModel::load(&base).unwrap();
        let ids = f32_model.prompt_ids(&[vec![Message::new("user", SENTENCES[0])]]).unwrap().remove(0);
        let reference = f32_model.logits(&ids).unwrap();
        for (quant, at_least) in [(GgufQuant::Q4KM, 0.97), (GgufQuant::Q8_0, 0.9995)] {
            let out = dir.path().join(format!("{arch:?}-{}", quant.as_str()));
            let scored = quantize_gguf(&dataset, &config(&base, "{}"), &out, quant).unwrap();
            assert!(scored.test.unwrap()["loss"].as_f64().unwrap().is_finite());
            let report = check_gguf(&out.join(quant.file_name()), &out);
            let r = logits_correlation(&reference, &GeneratorModel::load(&out).unwrap().logits(&ids).unwrap());
            assert!(r > at_least && r < 1.0, "{arch:?} {}: logits correlate {r} with the f32 model's", quant.as_str());
            if quant == GgufQuant::Q4KM {
                // Of 2 layers, llama.cpp's use_more_bits picks the last: its attn_v and ffn_down
                // are Q6_K, as is the output layer (Qwen3's tied embedding); the other matrices
                // are Q4_K, with the Llama's untied embedding.
                let untied = usize::from(arch == Arch::Llama);
                assert_eq!(report["kinds"]["Q4_K"], 2 * 5 + 2 + untied, "{arch:?}: {report}");
                assert_eq!(report["kinds"]["Q6_K"], 2 + 1, "{arch:?}: {report}");
            }
        }
    }
}

#[test]
fn the_loss_in_chunks_equals_the_loss_in_one_piece_with_its_gradients() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, tuning) in [
        (
            Arch::Qwen2,
            Tuning::Lora(LoraSpec {
                rank: 4,
                alpha: 8.0,
                dropout: 0.0,
                targets: vec!["q_proj".into(), "down_proj".into()],
            }),
        ),
        (Arch::Llama, Tuning::Full),
    ] {
        let base = tiny(dir.path(), arch);
        let model =
            CausalLm::load(&BaseModel::open(&base).unwrap(), &read_weights(&base).unwrap(), tuning, &Device::Cpu, 1)
                .unwrap();
        // Non-zero B, so that A's gradients are not all zero.
        for p in model.params().iter().filter(|p| p.name.contains("lora_B")) {
            p.var.set(&Tensor::full(0.05f32, p.var.dims(), &Device::Cpu).unwrap()).unwrap();
        }
        let tok = ChatTokenizer::load(&base).unwrap();
        let ids = tok.encode(&[Message::new("user", SENTENCES[0])], &transform(SENTENCES[0]), 200).unwrap();
        let n = ids.ids.len();
        let input = Tensor::from_vec(ids.ids.clone(), (1, n), &Device::Cpu).unwrap();
        let positions = Tensor::from_vec((0..n as u32).collect::<Vec<_>>(), (1, n), &Device::Cpu).unwrap();
        let mask = causal_mask(1, n, 0, None, &Device::Cpu).unwrap();
        let hidden = model.forward(&input, &positions, &mask, None, &mut Dropout::Off).unwrap();
        let rows: Vec<u32> = (ids.target_start - 1..n - 1).map(|r| r as u32).collect();
        let targets: Vec<u32> = ids.ids[ids.target_start..].to_vec();
        let (whole, g_whole) = chunked_loss(&model, &hidden, &rows, &targets, Some(0.5), 10_000).unwrap();
        let (chunked, g_chunked) = chunked_loss(&model, &hidden, &rows, &targets, Some(0.5), 3).unwrap();
        assert!((whole - chunked).abs() < 1e-4 * whole, "{arch:?}: {whole} vs {chunked}");
        assert_eq!(g_whole.len(), model.params().len());
        for ((p, a), b) in model.params().iter().zip(&g_whole).zip(&g_chunked) {
            let (a, b) = (values(a.as_ref().unwrap()), values(b.as_ref().unwrap()));
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.0, "{arch:?}: {} has a zero gradient", p.name);
            let worst = a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(worst <= 1e-4 * scale, "{arch:?}: {} differs by {worst} of {scale}", p.name);
        }
    }
}

#[test]
fn full_fine_tuning_trains_every_weight_and_saves_a_hugging_face_folder() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny(dir.path(), Arch::Qwen2);
    let dataset = ChatDataset { train: examples(), ..ChatDataset::default() };
    let config = config(&base, r#"{"full_finetune":true,"lr":0.001,"batch_size":2,"grad_accum":2}"#);
    let mut trainer = Trainer::new(&dataset, &config).unwrap();
    let n_weights = trainer.model().params().len();
    // Embedding (tied to the output layer), 2 layers of 2 norms, 7 weights and 3 biases, final norm.
    assert_eq!(n_weights, 1 + 2 * (2 + 7 + 3) + 1);
    let (_, grads) = trainer.step_on(&[0, 1]).unwrap();
    assert!(grads.iter().all(Option::is_some));
    let out = dir.path().join("full");
    let outcome = train(&dataset, &config, &out, &mut |_| Control::Continue).unwrap();
    assert_eq!(outcome.epochs.len(), 3);
    assert!(out.join("model.safetensors").is_file() && !out.join(export::ADAPTER_WEIGHTS).exists());
    let tuned = GeneratorModel::load(&out).unwrap();
    let plain = GeneratorModel::load(&base).unwrap();
    let ids = plain.prompt_ids(&[vec![Message::new("user", SENTENCES[3])]]).unwrap().remove(0);
    assert_ne!(tuned.logits(&ids).unwrap(), plain.logits(&ids).unwrap());
}

#[test]
fn stop_ends_the_run_at_once_and_keeps_what_was_learnt() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny(dir.path(), Arch::Llama);
    let dataset = ChatDataset { train: examples(), dev: examples()[..2].to_vec(), test: Vec::new() };
    let config = config(&base, r#"{"epochs":5,"batch_size":2}"#);
    let out = dir.path().join("stopped");
    let mut steps = 0;
    let outcome = train(&dataset, &config, &out, &mut |p| {
        if let Progress::Step { samples_per_sec, eta_secs, total_steps, .. } = p {
            assert!(*samples_per_sec > 0.0 && *eta_secs >= 0.0);
            assert_eq!(*total_steps, 20);
            steps += 1;
            if steps == 6 {
                return Control::Stop;
            }
        }
        Control::Continue
    })
    .unwrap();
    assert!(outcome.stopped);
    assert_eq!((steps, outcome.best_epoch, outcome.epochs.len()), (6, 1, 1));
    assert!(outcome.dev["loss"].as_f64().unwrap() > 0.0);
    GeneratorModel::load(&out).unwrap();
}

#[test]
fn greedy_with_the_cache_equals_greedy_recomputing() {
    let dir = tempfile::tempdir().unwrap();
    for arch in [Arch::Qwen2, Arch::Llama] {
        let base = tiny(dir.path(), arch);
        let model = GeneratorModel::load(&base).unwrap();
        // Prompts of different lengths: the batch is left-padded.
        let dialogs: Vec<Vec<Message>> =
            vec![vec![Message::new("user", SENTENCES[0])], vec![Message::new("user", SENTENCES[2])]];
        let prompts = model.prompt_ids(&dialogs).unwrap();
        assert_ne!(prompts[0].len(), prompts[1].len());
        let greedy = GenerateOptions { max_new_tokens: 12, ..Default::default() };
        let cached = model.generate_ids(&prompts, &greedy).unwrap();
        let recomputed = model.generate_ids(&prompts, &GenerateOptions { use_cache: false, ..greedy.clone() }).unwrap();
        assert_eq!(cached, recomputed, "{arch:?}");
        // A prompt alone gives what it gives in the batch.
        let alone = model.generate_ids(&prompts[1..], &greedy).unwrap();
        assert_eq!(alone[0], cached[1], "{arch:?}");
        // Sampling with a seed repeats itself; temperature and top-p still give valid ids.
        let sampled = GenerateOptions { temperature: 0.8, top_p: 0.9, seed: 5, ..greedy.clone() };
        assert_eq!(model.generate_ids(&prompts, &sampled).unwrap(), model.generate_ids(&prompts, &sampled).unwrap());
    }
}

#[test]
fn the_chat_template_renders_turns_and_the_loss_covers_the_target_only() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny(dir.path(), Arch::Qwen2);
    let tok = ChatTokenizer::load(&base).unwrap();
    let messages = vec![Message::new("user", "hello"), Message::new("assistant", "hi"), Message::new("user", "bye")];
    let rendered = tok.template.render(&messages, true).unwrap();
    assert_eq!(
        rendered,
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n\
         <|im_start|>assistant\nhi<|im_end|>\n<|im_start|>user\nbye<|im_end|>\n<|im_start|>assistant\n"
    );
    let enc = tok.encode(&messages, "see you", 1000).unwrap();
    assert_eq!(enc.ids[..enc.target_start], tok.prompt_ids(&messages).unwrap()[..]);
    let target = tok.tokenizer.decode(&enc.ids[enc.target_start..], false).unwrap();
    assert_eq!(target, "see you<|im_end|>\n");

    // Too long: the oldest turns go first, the last user turn stays.
    let full = enc.ids.len();
    let short = tok.encode(&messages, "see you", full - 3).unwrap();
    let prompt = tok.tokenizer.decode(&short.ids[..short.target_start], false).unwrap();
    assert!(!prompt.contains("hello") && prompt.contains("bye"), "{prompt}");
    assert_eq!(tok.tokenizer.decode(&short.ids[short.target_start..], false).unwrap(), "see you<|im_end|>\n");
    // A target that cannot fit is cut at its end.
    let tight = tok.encode(&messages, &"word ".repeat(100), 40).unwrap();
    assert_eq!(tight.ids.len(), 40);
    assert!(tight.target_start < 40);

    // Templates that raise and that call Python string methods (as Qwen3's does).
    let t = ChatTemplate::new(
        "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}\
         {% for m in messages %}{{ m.content.strip().upper() }}{% if m.content.startswith(' a') %}!{% endif %}{% endfor %}",
        "",
        "</s>",
    )
    .unwrap();
    assert_eq!(t.render(&[Message::new("user", " abc ")], false).unwrap(), "ABC!");
    assert!(t.render(&[Message::new("system", "x")], false).unwrap_err().to_string().contains("user first"));
}

/// minijinja renders chat templates as `transformers` does with Jinja2: the cases and their
/// expected text come from scripts/reference/chat_template_reference.py.
#[test]
fn chat_templates_render_as_transformers_renders_them() {
    let data: serde_json::Value = serde_json::from_str(include_str!("../data/chat_templates.json")).unwrap();
    let (bos, eos) = (data["bos_token"].as_str().unwrap(), data["eos_token"].as_str().unwrap());
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 7);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let template = ChatTemplate::new(case["template"].as_str().unwrap(), bos, eos).unwrap();
        let got = template.render_value(&case["messages"], case["add_generation_prompt"].as_bool().unwrap());
        match (&case["expected"], &case["error"]) {
            (serde_json::Value::String(expected), _) => assert_eq!(&got.unwrap(), expected, "{name}"),
            (_, serde_json::Value::String(error)) => {
                let e = got.unwrap_err().to_string();
                assert!(e.contains(error.as_str()), "{name}: {e}");
            }
            _ => panic!("{name}: neither expected nor error"),
        }
    }
}

#[test]
fn the_adapter_has_peft_names_and_the_merged_folder_gives_the_same_logits() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny(dir.path(), Arch::Qwen2);
    let dataset = ChatDataset { train: examples(), ..ChatDataset::default() };
    let config = config(&base, r#"{"epochs":2}"#);
    let out = dir.path().join("run");
    train(&dataset, &config, &out, &mut |_| Control::Continue).unwrap();

    let adapter_config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(export::ADAPTER_CONFIG)).unwrap()).unwrap();
    assert_eq!(adapter_config["peft_type"], "LORA");
    assert_eq!(adapter_config["task_type"], "CAUSAL_LM");
    assert_eq!(adapter_config["r"], 8);
    let tensors = candle_core::safetensors::load(out.join(export::ADAPTER_WEIGHTS), &candle_core::Device::Cpu).unwrap();
    assert_eq!(tensors.len(), 2 * 7 * 2);
    let a = &tensors["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"];
    let b = &tensors["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"];
    assert_eq!((a.dims(), b.dims()), (&[8, 64][..], &[64, 8][..]));

    let tuned = GeneratorModel::load(&out).unwrap();
    assert!(matches!(tuned.model.tuning(), Tuning::Lora(_)));
    let merged_dir = dir.path().join("merged");
    export::write_merged(&merged_dir, &tuned.model, &tuned.base, &out).unwrap();
    let merged = GeneratorModel::load(&merged_dir).unwrap();
    let ids = tuned.prompt_ids(&[vec![Message::new("user", SENTENCES[1])]]).unwrap().remove(0);
    let (x, y) = (tuned.logits(&ids).unwrap(), merged.logits(&ids).unwrap());
    let worst = x.iter().flatten().zip(y.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-4, "merged logits differ by {worst}");
    // The untrained base differs: the adapter did something.
    let plain = GeneratorModel::load(&base).unwrap().logits(&ids).unwrap();
    let moved = x.iter().flatten().zip(plain.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(moved > 1e-3);
}

#[test]
fn broken_generator_folders_give_errors_that_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny(dir.path(), Arch::Llama);
    let check = |dir: &Path, file: &str, fragment: &str| {
        let e = GeneratorModel::load(dir).unwrap_err().to_string();
        assert!(e.contains(file) && e.contains(fragment), "{e}");
    };
    let edit_json = |path: &Path, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        edit(&mut v);
        std::fs::write(path, v.to_string()).unwrap();
    };
    let copy = |name: &str| {
        let to = dir.path().join(name);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&base).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
        to
    };

    let gpt2 = copy("gpt2");
    edit_json(&gpt2.join("config.json"), &|v| v["model_type"] = "gpt2".into());
    check(&gpt2, "config.json", "qwen2, qwen3 and llama");

    let scaled = copy("scaled");
    edit_json(&scaled.join("config.json"), &|v| v["rope_scaling"] = serde_json::json!({"rope_type": "llama3"}));
    check(&scaled, "config.json", "rope_scaling");

    let no_template = copy("no-template");
    edit_json(&no_template.join("tokenizer_config.json"), &|v| {
        v.as_object_mut().unwrap().remove("chat_template");
    });
    check(&no_template, "tokenizer_config.json", "chat template");

    let wider = copy("wider");
    edit_json(&wider.join("config.json"), &|v| v["hidden_size"] = 96.into());
    check(&wider, "model.safetensors", "shape");

    let no_weights = copy("no-weights");
    std::fs::remove_file(no_weights.join("model.safetensors")).unwrap();
    check(&no_weights, "model.safetensors", "no weights");
}

#[test]
fn the_same_seed_gives_the_same_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny(dir.path(), Arch::Qwen2);
    let dataset = ChatDataset { train: examples(), ..ChatDataset::default() };
    let adapter = |seed: u64, name: &str| {
        let config = config(&base, &format!(r#"{{"epochs":2,"batch_size":3,"lora_dropout":0.1,"seed":{seed}}}"#));
        let out = dir.path().join(name);
        train(&dataset, &config, &out, &mut |_| Control::Continue).unwrap();
        std::fs::read(out.join(export::ADAPTER_WEIGHTS)).unwrap()
    };
    assert_eq!(adapter(5, "a"), adapter(5, "b"));
    assert_ne!(adapter(5, "a"), adapter(6, "c"));
}
