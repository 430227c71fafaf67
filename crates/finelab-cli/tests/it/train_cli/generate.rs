//! Generate projects from the command line: a LoRA generator trained, scored and exported; every
//! chat format imported and exported again.

use super::*;

/// A new user's generation loop, from the command line only: a generate project from an OpenAI
/// chat JSONL of real Chinese dialogs, a tiny Qwen2 made from it, LoRA fine-tuning, the stored
/// report, `predict`, `metrics --kind generate`, and both model exports.
#[test]
fn generate_project_trains_a_lora_generator_that_predicts_scores_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("replies");
    ok(&["new", s(&dir), "--kind", "generate"]);
    let train = chatterbot_zh(8, "train");
    let chat = write_jsonl(&tmp.path().join("chat.jsonl"), &train);
    let report = json_of(&ok(&["import", s(&dir), s(&chat), "--json"]))["report"].clone();
    assert_eq!((report["imported"].as_u64(), report["n_rejected"].as_u64()), (Some(8), Some(0)), "{report}");
    // Dev and test ask two of the training questions again, as prompt/completion lines: a tiny
    // model memorizes, it does not generalize.
    let question = |v: &Value| v["messages"][0]["content"].as_str().unwrap().to_string();
    let answer = |v: &Value| v["messages"][1]["content"].as_str().unwrap().to_string();
    let held = write_jsonl(
        &tmp.path().join("held.jsonl"),
        &[
            json!({"id": "dev-1", "prompt": question(&train[0]), "completion": answer(&train[0]), "split": "dev", "category": "ai"}),
            json!({"id": "test-1", "prompt": question(&train[2]), "completion": answer(&train[2]), "split": "test", "category": "ai"}),
        ],
    );
    ok(&["import", s(&dir), s(&held), "--keep-duplicates"]);
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    assert_eq!((stats["records"].as_u64(), stats["labeled"].as_u64()), (Some(10), Some(10)), "{stats}");

    let base = tmp.path().join("tiny-qwen2");
    ok(&["make-tiny-model", s(&base), "--arch", "qwen2", "--corpus", s(&dir), "--seed", "3"]);
    assert!(base.join("config.json").is_file() && base.join("tokenizer_config.json").is_file());
    let out = ok(&[
        "train",
        s(&dir),
        "--model",
        s(&base),
        "--epochs",
        "100",
        "--patience",
        "100",
        "--lr",
        "0.02",
        "--batch-size",
        "4",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--lora-rank",
        "8",
        "--lora-alpha",
        "16",
        "--lora-dropout",
        "0",
        "--max-new-tokens",
        "40",
    ]);
    assert!(out.contains("completed") && out.contains("model folder:") && out.contains("chrF"), "{out}");
    let listed = runs(&dir);
    assert_eq!((listed.len(), listed[0]["family"].as_str()), (1, Some("generator")), "{listed:?}");
    let run_id = listed[0]["id"].as_str().unwrap().to_string();

    // The stored report: sacrebleu's scores, per category too, and the text a person reads.
    let test = json_of(&ok(&["eval", s(&dir), "--json"]));
    assert_eq!((test["n"].as_u64(), test["lang"].as_str()), (Some(1), Some("zh")), "{test}");
    let near = |v: &Value, x: f64| v.as_f64().is_some_and(|v| (v - x).abs() < 1e-9);
    assert!(near(&test["exact_match"], 1.0) && near(&test["chrf"], 100.0), "{test}");
    assert_eq!(test["categories"]["ai"]["n"], 1, "{test}");
    let text = ok(&["eval", s(&dir), "--split", "dev"]);
    for piece in ["chrF", "BLEU", "ROUGE-L", "perplexity", "dev split"] {
        assert!(text.contains(piece), "{piece:?} missing from:\n{text}");
    }

    // `predict` on the run's folder: messages in, outputs out, ids kept.
    let model_dir = dir.join(listed[0]["model_dir"].as_str().unwrap());
    let asked = write_jsonl(
        &tmp.path().join("asked.jsonl"),
        &train[2..5]
            .iter()
            .map(|v| json!({"id": v["id"], "messages": [{"role": "user", "content": question(v)}]}))
            .collect::<Vec<_>>(),
    );
    let predicted_path = tmp.path().join("predicted.jsonl");
    let predicted = ok(&["predict", s(&model_dir), s(&asked)]);
    std::fs::write(&predicted_path, &predicted).unwrap();
    let predicted: Vec<Value> = predicted.lines().map(json_of).collect();
    assert_eq!(predicted.len(), 3);
    for (p, v) in predicted.iter().zip(&train[2..5]) {
        assert_eq!((&p["id"], p["output"].as_str()), (&v["id"], Some(answer(v).as_str())), "{p}");
    }

    // `metrics --kind generate` on the predictions against the references (a wrong one added).
    let gold = write_jsonl(
        &tmp.path().join("gold.jsonl"),
        &train[2..5].iter().map(|v| json!({"id": v["id"], "output": answer(v)})).collect::<Vec<_>>(),
    );
    let scores =
        json_of(&ok(&["metrics", "--kind", "generate", "--gold", s(&gold), "--pred", s(&predicted_path), "--json"]));
    assert!(near(&scores["exact_match"], 1.0) && near(&scores["chrf"], 100.0) && scores["n"] == 3, "{scores}");
    let mut wrong = predicted.clone();
    wrong[0]["output"] = json!("完全不同的回答");
    let wrong_path = write_jsonl(&tmp.path().join("wrong.jsonl"), &wrong);
    let scores =
        json_of(&ok(&["metrics", "--kind", "generate", "--gold", s(&gold), "--pred", s(&wrong_path), "--json"]));
    assert!(near(&scores["exact_match"], 2.0 / 3.0) && scores["chrf"].as_f64().unwrap() < 100.0, "{scores}");
    assert_eq!(scores["records"][0]["exact"], json!(false), "{scores}");

    // Exports: the merged Hugging Face folder, and PEFT's adapter.
    let merged = tmp.path().join("merged");
    let exported = json_of(&ok(&["export-model", s(&dir), &run_id, s(&merged), "--json"]));
    let files = |e: &Value| -> Vec<String> {
        e["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
    };
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
        assert!(files(&exported).contains(&f.to_string()) && merged.join(f).is_file(), "{f}: {exported}");
    }
    let adapter = tmp.path().join("adapter");
    let exported = json_of(&ok(&["export-model", s(&dir), &run_id, s(&adapter), "--adapter", "--json"]));
    for f in ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json"] {
        assert!(files(&exported).contains(&f.to_string()) && adapter.join(f).is_file(), "{f}: {exported}");
    }
    assert!(!files(&exported).contains(&"model.safetensors".to_string()), "{exported}");
    let config = json_of(&std::fs::read_to_string(adapter.join("adapter_config.json")).unwrap());
    assert_eq!((config["peft_type"].as_str(), config["r"].as_u64()), (Some("LORA"), Some(8)), "{config}");
    // The predictions of the merged folder are the run's.
    let again = ok(&["predict", s(&merged), s(&asked)]);
    assert_eq!(again.lines().map(json_of).collect::<Vec<_>>(), predicted);

    // A blind comparison needs outputs that differ: this run writes every reference.
    let refused = fails(&["compare", s(&dir), "--a", &run_id, "--b", "reference"]);
    assert!(refused.contains("no record with two different outputs"), "{refused}");
    let refused = fails(&["compare", s(&dir), "--a", &run_id, "--b", &format!("run:{run_id}")]);
    assert!(refused.contains("two different sources"), "{refused}");
    assert!(ok(&["compare", s(&dir)]).contains("no comparisons yet"));
    assert_eq!(ok(&["export", s(&dir), "--format", "preferences"]), "", "no judged pair yet");
}

/// Every shape of generation data people already have goes in, bad rows are named by line, and
/// the project's own exports (JSONL and OpenAI chat) come back in unchanged.
#[test]
fn generate_imports_every_format_and_its_exports_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("formats");
    ok(&["new", s(&dir), "--kind", "generate"]);
    let imported = |file: &Path, extra: &[&str]| -> Value {
        let mut args = vec!["import", s(&dir), s(file), "--json"];
        args.extend_from_slice(extra);
        json_of(&ok(&args))["report"].clone()
    };
    let count = |r: &Value| (r["imported"].as_u64().unwrap(), r["n_rejected"].as_u64().unwrap());

    let alpaca = write_jsonl(
        &tmp.path().join("alpaca.jsonl"),
        &[
            json!({"instruction": "把句子翻译成英文", "input": "今天天气很好", "output": "The weather is nice today."}),
            json!({"instruction": "Write a tagline for a tea shop", "input": "", "output": "Slow down, sip well."}),
        ],
    );
    assert_eq!(count(&imported(&alpaca, &[])), (2, 0));
    let sharegpt = write_jsonl(
        &tmp.path().join("sharegpt.jsonl"),
        &[json!({"conversations": [
            {"from": "system", "value": "你是客服。"},
            {"from": "human", "value": "快递到哪了？"},
            {"from": "gpt", "value": "您的包裹已到达上海分拣中心。"},
        ]})],
    );
    assert_eq!(count(&imported(&sharegpt, &[])), (1, 0));
    // A bad line is named by its number; the good lines around it go in.
    let mixed = tmp.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        "{\"prompt\": \"写一句关于茶的广告\", \"completion\": \"一杯好茶，慢享时光。\"}\n\
         {\"prompt\": \"Summarize: the parcel left\", \"completion\": \n\
         {\"prompt\": \"Summarize: the parcel left Hangzhou\", \"completion\": \"Parcel shipped.\"}\n",
    )
    .unwrap();
    let report = imported(&mixed, &[]);
    assert_eq!(count(&report), (2, 1), "{report}");
    assert_eq!(report["rejected"][0]["line"], 2, "{report}");
    // A table with an input and an output column.
    let table = tmp.path().join("copy.csv");
    std::fs::write(&table, "product,文案\n保温杯,\"一整天的温度，刚刚好。\"\n帆布包,\"装得下日常，也装得下远方。\"\n")
        .unwrap();
    assert_eq!(count(&imported(&table, &["--text-col", "product", "--output-col", "文案"])), (2, 0));
    // A dialog table grouped by conversation: each agent turn the target of the turns before it.
    let dialogs = tmp.path().join("dialogs.csv");
    std::fs::write(
        &dialogs,
        "conv,who,text\nc1,customer,我的订单还没发货\nc1,坐席,请提供订单号\nc1,customer,12345\nc1,坐席,已为您加急处理\n",
    )
    .unwrap();
    let report = imported(
        &dialogs,
        &["--group-col", "conv", "--speaker-col", "who", "--text-col", "text", "--dialog-targets", "each"],
    );
    assert_eq!(count(&report), (2, 0), "{report}");

    let exported = |format: &str, from: &Path, name: &str| -> PathBuf {
        let path = tmp.path().join(name);
        ok(&["export", s(from), "--format", format, "-o", s(&path)]);
        path
    };
    let jsonl = exported("jsonl", &dir, "all.jsonl");
    let rows: Vec<Value> = read_jsonl(&jsonl);
    assert_eq!(rows.len(), 9);
    let outputs: Vec<&str> = rows.iter().map(|r| r["output"].as_str().unwrap()).collect();
    for expected in ["请提供订单号", "已为您加急处理", "您的包裹已到达上海分拣中心。", "一整天的温度，刚刚好。"]
    {
        assert!(outputs.contains(&expected), "{expected}: {outputs:?}");
    }
    let with_turns = rows.iter().find(|r| r["output"] == "已为您加急处理").unwrap();
    assert_eq!(with_turns["turns"].as_array().map(Vec::len), Some(3), "{with_turns}");
    // OpenAI chat format: messages whose last assistant turn is the output, the system kept.
    let openai = exported("openai", &dir, "all.openai.jsonl");
    let lines = read_jsonl(&openai);
    assert_eq!(lines.len(), 9);
    let served = lines.iter().find(|l| l["messages"].to_string().contains("上海分拣中心")).unwrap();
    let roles: Vec<&str> = served["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant"], "{served}");
    // Both exports go into new projects and come out the same.
    for (name, file) in [("from-jsonl", &jsonl), ("from-openai", &openai)] {
        let again = tmp.path().join(name);
        ok(&["new", s(&again), "--kind", "generate"]);
        assert_eq!(count(&imported_into(&again, file)), (9, 0));
        let back = exported("openai", &again, &format!("{name}.openai.jsonl"));
        let strip = |rows: Vec<Value>| -> Vec<Value> { rows.into_iter().map(|r| r["messages"].clone()).collect() };
        assert_eq!(strip(read_jsonl(&back)), strip(read_jsonl(&openai)), "{name}");
    }
}

fn imported_into(dir: &Path, file: &Path) -> Value {
    json_of(&ok(&["import", s(dir), s(file), "--json", "--keep-duplicates"]))["report"].clone()
}
