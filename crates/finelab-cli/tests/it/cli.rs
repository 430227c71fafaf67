//! The `finelab` binary as a user runs it: real project folders, real files, real processes.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common;
use common::{finelab, ok, run, s};

fn stats(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(&["stats", s(dir), "--json"])).unwrap()
}

#[test]
fn new_import_stats_export_reimport() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reviews");
    ok(&["new", s(&dir), "--kind", "single", "--labels", "好评,差评"]);
    let csv = tmp.path().join("in.csv");
    std::fs::write(&csv, "id,text,label\n1,很好用,好评\n2,太差了,差评\n3,还没标\n4,很好用,好评\n5,坏,不存在\n")
        .unwrap();
    let out = ok(&["import", s(&dir), s(&csv)]);
    assert!(out.contains("imported 3 records (2 labeled)"), "{out}");
    assert!(out.contains("1 duplicate(s)") && out.contains("line 5 = 1"), "{out}");
    assert!(out.contains("in.csv:6:") && out.contains("\"不存在\""), "{out}");
    let st = stats(&dir);
    assert_eq!(st["records"], 3);
    assert_eq!(st["labeled"], 2);
    assert_eq!(st["labels"], serde_json::json!({"好评": 1, "差评": 1}));
    assert_eq!(st["annotators"], serde_json::json!(["import"]));
    assert_eq!(st["runs"], 0);
    let splits = &st["splits"];
    assert_eq!(
        splits["train"].as_u64().unwrap() + splits["dev"].as_u64().unwrap() + splits["test"].as_u64().unwrap(),
        2
    );

    let exported = tmp.path().join("out.jsonl");
    ok(&["export", s(&dir), "-o", s(&exported)]);
    let copy = tmp.path().join("copy");
    ok(&["new", s(&copy), "--kind", "single", "--labels", "好评,差评"]);
    let out = ok(&["import", s(&copy), s(&exported), "--json"]);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["report"]["imported"], 3);
    let again = ok(&["export", s(&copy)]);
    assert_eq!(std::fs::read_to_string(&exported).unwrap(), again);
    assert_eq!(stats(&copy)["labels"], st["labels"]);

    let csv_out = ok(&["export", s(&dir), "--format", "csv", "--labeled-only"]);
    assert_eq!(csv_out.lines().count(), 3, "{csv_out}");
    assert!(csv_out.starts_with("id,text,label,split,annotator,meta"));

    let hits = ok(&["search", s(&dir), "好用"]);
    assert_eq!(hits.lines().count(), 1, "{hits}");
}

#[test]
fn errors_name_the_file_and_exit_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let out = run(&["stats", s(&dir)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Finelab project"));
    ok(&["new", s(&dir), "--kind", "spans", "--labels", "LOC"]);
    let out = run(&["new", s(&dir), "--kind", "spans", "--labels", "LOC"]);
    assert!(!out.status.success());
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "a,b\n1,2\n").unwrap();
    let out = run(&["import", s(&dir), s(&bad)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("bad.csv") && err.contains("--text-col") && err.contains("\"a\", \"b\""), "{err}");
    let missing = tmp.path().join("missing.jsonl");
    let out = run(&["import", s(&dir), s(&missing)]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"));
    let out = run(&["export", s(&dir), "--format", "conll"]);
    assert!(out.status.success());
    let out = run(&["import", s(&dir), s(&bad), "--text-col", "a", "--strict", "--label-col", "b"]);
    assert!(!out.status.success(), "label 2 is unknown, so strict mode imports nothing");
    assert_eq!(stats(&dir)["records"], 0);
}

#[test]
fn conll_export_of_chinese_spans() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ner");
    ok(&["new", s(&dir), "--kind", "spans", "--labels", "PER,LOC"]);
    let src = tmp.path().join("a.jsonl");
    std::fs::write(&src, "{\"text\": \"张三去了上海。\", \"spans\": [{\"start\":0,\"end\":2,\"label\":\"PER\"},{\"start\":4,\"end\":6,\"label\":\"LOC\"}]}\n").unwrap();
    ok(&["import", s(&dir), s(&src)]);
    let conll = ok(&["export", s(&dir), "--format", "conll"]);
    assert_eq!(conll, "张\tB-PER\n三\tI-PER\n去\tO\n了\tO\n上\tB-LOC\n海\tI-LOC\n。\tO\n\n");
    // And back: the BIO file imports to the same spans.
    let bio = tmp.path().join("back.conll");
    std::fs::write(&bio, &conll).unwrap();
    let copy = tmp.path().join("copy");
    ok(&["new", s(&copy), "--kind", "spans", "--labels", "PER,LOC"]);
    ok(&["import", s(&copy), s(&bio)]);
    let a: serde_json::Value = serde_json::from_str(ok(&["export", s(&dir)]).trim()).unwrap();
    let b: serde_json::Value = serde_json::from_str(ok(&["export", s(&copy)]).trim()).unwrap();
    assert_eq!((&a["text"], &a["spans"]), (&b["text"], &b["spans"]));
}

/// Writes `n` generated JSONL records, big enough that importing takes a while.
fn generated_jsonl(path: &PathBuf, n: usize) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        writeln!(
            w,
            "{{\"id\": \"g{i}\", \"text\": \"第{i}条评论：物流很快，quality is great, item #{i}\", \"label\": \"{}\"}}",
            if i % 3 == 0 { "neg" } else { "pos" }
        )
        .unwrap();
    }
}

#[test]
fn killed_import_leaves_the_project_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    ok(&["new", s(&dir), "--kind", "single", "--labels", "pos,neg"]);
    let small = tmp.path().join("small.jsonl");
    generated_jsonl(&small, 10);
    ok(&["import", s(&dir), s(&small)]);
    let big = tmp.path().join("big.jsonl");
    generated_jsonl(&big, 200_000);
    std::fs::write(&big, std::fs::read_to_string(&big).unwrap().replace("\"g", "\"h")).unwrap();
    let mut child = finelab()
        .args(["import", s(&dir), s(&big), "--json-progress"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until rows are being written inside the transaction, then kill -9.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut rows_seen = 0;
    for line in lines.by_ref() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        assert_eq!(v["event"], "progress", "the import finished before it could be killed: {v}");
        rows_seen = v["rows"].as_u64().unwrap();
        if rows_seen >= 20_000 {
            break;
        }
    }
    assert!(rows_seen >= 20_000);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    let st = stats(&dir);
    assert_eq!(st["records"], 10, "no record of the killed import may remain");
    assert_eq!(st["labeled"], 10);
    // The project still works: the same file imports fully afterwards.
    let out = ok(&["import", s(&dir), s(&big), "--json"]);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    // The first ten texts repeat those of the small file: reported as duplicates.
    assert_eq!(report["report"]["imported"], 199_990);
    assert_eq!(report["report"]["duplicates"], 10);
    assert_eq!(stats(&dir)["records"], 200_000);
}

/// `finelab export DIR | head -1`: once the reader goes away, finelab ends as a Unix filter does
/// (SIGPIPE), never with a "Broken pipe" panic; the project is untouched.
#[cfg(unix)]
#[test]
fn closed_stdout_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("many");
    ok(&["new", s(&dir), "--kind", "single", "--labels", "a,b"]);
    let text = tmp.path().join("lines.txt");
    let lines: String = (0..20_000).map(|i| format!("第{i}条评论 review number {i}\n")).collect();
    std::fs::write(&text, lines).unwrap();
    ok(&["import", s(&dir), s(&text)]);
    let mut child = finelab().args(["export", s(&dir)]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap(); // reader dropped here
    assert!(first.contains("review number"), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "finelab panicked on a closed pipe:\n{stderr}");
    assert!(out.status.success() || out.status.signal() == Some(13), "status {:?}, stderr:\n{stderr}", out.status);
    assert_eq!(stats(&dir)["records"], 20_000, "{}", stats(&dir));
}

/// Every request kind the window and `finelab serve` accept has a `finelab` command, or a line
/// in ARCHITECTURE.md's "Deliberately absent" that says why not.
#[test]
fn every_request_kind_has_a_command_or_a_listed_exemption() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The request kinds, from the TypeScript generated from `Request` (kept fresh by a test).
    let ts = std::fs::read_to_string(root.join("ui/src/lib/types/api.ts")).unwrap();
    let kinds: Vec<&str> = ts.split("\"cmd\": \"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    assert!(kinds.len() >= 20 && kinds.contains(&"annotate"), "{kinds:?}");
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let absent = architecture.split("## Deliberately absent").nth(1).expect("a Deliberately absent section");
    let exempt: Vec<&str> = absent
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- `"))
        .flat_map(|l| l.split(':').next().unwrap().split(", ").map(|k| k.trim_matches('`')))
        .collect();
    let help = ok(&["--help"]);
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("  ").and_then(|l| l.split_whitespace().next()))
        .collect();
    let command_of = |kind: &str| -> Option<&str> {
        Some(match kind {
            "create_project" => "new",
            "open_project" | "stats" => "stats",
            "set_guidelines" => "guidelines",
            "set_retrain_every" | "update_settings" => "settings",
            "agreement" => "agreement",
            "disagreements" => "disagreements",
            "adjudicate" => "annotate",
            "people" => "people",
            "list_users" | "add_user" | "reset_user" | "remove_user" => "user",
            "assign_slice" | "list_assignments" | "remove_assignment" => "assign",
            "production_mix" => "production",
            "start_import" => "import",
            "next_record" | "next_batch" => "next",
            "annotate" => "annotate",
            "undo" => "undo",
            "search" => "search",
            "download_model" => "download",
            "start_train" => "train",
            "list_runs" => "runs",
            "get_run" | "evaluate" => "eval",
            "export_model" => "export-model",
            "resume_run" => "resume",
            "export_job" => "export-job",
            "import_run" => "import-run",
            "suspects" | "start_suspects" => "suspects",
            "train_curve" | "start_train_curve" => "train-curve",
            "start_comparison" | "list_comparisons" | "comparison_report" => "compare",
            "export_preferences" => "export",
            "estimate_train_memory" => "train",
            "deploy" => "serve-model",
            "start_optimize" | "run_costs" => "optimize",
            _ => return None,
        })
    };
    let mut missing = Vec::new();
    for kind in &kinds {
        match command_of(kind) {
            Some(command) => {
                assert!(commands.contains(&command), "`finelab {command}` (for {kind}) is not in:\n{help}")
            }
            None if exempt.contains(kind) => {}
            None => missing.push(*kind),
        }
    }
    assert!(
        missing.is_empty(),
        "request kinds with neither a CLI command nor a line in ARCHITECTURE.md's Deliberately absent: {missing:?}"
    );
    for kind in &exempt {
        assert!(kinds.contains(kind), "ARCHITECTURE.md exempts `{kind}`, which is not a request kind");
    }
}

/// The repository's top folders and crates, each of which ARCHITECTURE.md's code map describes.
fn code_map_places(root: &Path) -> Vec<String> {
    let mut places = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let ignored = name.starts_with('.')
            || ["target", "target-cuda", "node_modules", "sample-project", "bench-out"].contains(&name.as_str());
        if !entry.file_type().unwrap().is_dir()
            || ignored
            || std::process::Command::new("git")
                .args(["-C", root.to_str().unwrap(), "ls-files", "--error-unmatch", &name])
                .output()
                .is_ok_and(|o| !o.status.success())
        {
            continue;
        }
        if name == "crates" {
            for krate in std::fs::read_dir(entry.path()).unwrap() {
                places.push(format!("crates/{}", krate.unwrap().file_name().to_string_lossy()));
            }
        } else {
            places.push(format!("{name}/"));
        }
    }
    places.sort();
    places
}

/// ARCHITECTURE.md stays a true map: every crate and every top folder has its paragraph.
#[test]
fn tidy_every_crate_and_top_folder_is_in_the_code_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let code_map = architecture.split("## Code map").nth(1).unwrap().split("\n## ").next().unwrap();
    let places = code_map_places(&root);
    assert!(places.contains(&"crates/finelab-store".to_string()) && places.contains(&"ui/".to_string()), "{places:?}");
    let missing: Vec<&String> = places.iter().filter(|p| !code_map.contains(&format!("- `{p}`"))).collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md's code map has no paragraph (\"- `PLACE` — ...\") for {missing:?}");
}

/// The modules of a crate (a file under `src/`, or a folder with its `mod.rs`) and the modules
/// each one names with `crate::` outside comments: the crate's import graph.
fn module_graph(src: &Path) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let module =
                rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let edges = graph.entry(module.clone()).or_default();
            for line in text.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
                for rest in line.split("crate::").skip(1) {
                    let target: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    let is_module =
                        src.join(format!("{target}.rs")).is_file() || src.join(&target).join("mod.rs").is_file();
                    if is_module && target != module {
                        edges.insert(target);
                    }
                }
            }
        }
    }
    graph
}

/// No module of finelab-app or finelab-train imports one that imports it back (directly or
/// through others): when two need each other, the types they share belong in a third, a leaf.
#[test]
fn tidy_no_circle_of_imports_inside_a_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in ["finelab-app", "finelab-train", "finelab-store", "finelab-server"] {
        let graph = module_graph(&root.join(krate).join("src"));
        assert!(graph.len() >= 3, "{krate}: {graph:?}");
        // Depth-first search for a back edge; the path to it is the circle.
        fn visit<'a>(
            node: &'a str,
            graph: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
            path: &mut Vec<&'a str>,
            done: &mut std::collections::BTreeSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|p| *p == node) {
                let mut circle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
                circle.push(node.to_string());
                return Some(circle);
            }
            if !done.insert(node) {
                return None;
            }
            path.push(node);
            for next in graph.get(node).into_iter().flatten() {
                if let Some(circle) = visit(next, graph, path, done) {
                    return Some(circle);
                }
            }
            path.pop();
            None
        }
        let mut done = std::collections::BTreeSet::new();
        for node in graph.keys() {
            let circle = visit(node, &graph, &mut Vec::new(), &mut done);
            assert!(circle.is_none(), "{krate}: a circle of imports: {}", circle.unwrap().join(" -> "));
        }
    }
}

/// `finelab metrics --kind generate`: records matched by id (in any order) or by line, the
/// scores those of `gen_metrics` (itself checked against sacrebleu and rouge-score), categories
/// from `meta.FIELD`, and bad lines reported as `FILE:LINE: reason`.
#[test]
fn generate_metrics_match_the_library_and_name_bad_lines() {
    use finelab_train::gen_metrics::{generation_report, Lang};
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, lines: &[serde_json::Value]| {
        let path = tmp.path().join(name);
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        path
    };
    let references = ["我爱北京天安门。", "模型训练了3.5小时", "The cat sat on the mat.", "好的"];
    let outputs = ["我爱北京。", "模型训练了三小时", "the cat sat on a mat", "  好的 "];
    let topics = [Some("地点"), Some("训练"), None, Some("地点")];
    let gold: Vec<_> = (0..4)
        .map(|i| match topics[i] {
            Some(t) => serde_json::json!({"id": format!("r{i}"), "output": references[i], "meta": {"topic": t}}),
            None => serde_json::json!({"id": format!("r{i}"), "output": references[i]}),
        })
        .collect();
    // Predictions in another order, with a blank line: matched by id.
    let pred_lines: Vec<_> =
        [3, 1, 0, 2].iter().map(|&i| serde_json::json!({"id": format!("r{i}"), "output": outputs[i]})).collect();
    let gold_path = write("gold.jsonl", &gold);
    let pred_path = write("pred.jsonl", &pred_lines);
    let out = ok(&[
        "metrics",
        "--kind",
        "generate",
        "--gold",
        s(&gold_path),
        "--pred",
        s(&pred_path),
        "--category",
        "topic",
        "--json",
    ]);
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    let categories: Vec<Option<String>> = topics.iter().map(|t| t.map(String::from)).collect();
    let want = generation_report(&outputs, &references, Some(&categories), Lang::Auto).unwrap();
    assert_eq!(got["lang"], "zh");
    assert_eq!(got["n"], 4);
    let close = |a: &serde_json::Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-12;
    for (key, value) in [
        ("chrf", want.corpus.chrf),
        ("bleu", want.corpus.bleu),
        ("rouge_l", want.corpus.rouge_l),
        ("exact_match", want.corpus.exact_match),
    ] {
        assert!(close(&got[key], value), "{key}: {} vs {value}", got[key]);
    }
    assert_eq!(got["exact_match"], 0.25); // "  好的 " trimmed
    for (i, record) in want.records.iter().enumerate() {
        let g = &got["records"][i];
        assert_eq!(g["id"], format!("r{i}"));
        assert!(close(&g["sentence_chrf"], record.sentence_chrf) && close(&g["sentence_bleu"], record.sentence_bleu));
        assert!(close(&g["rouge_l"], record.rouge_l) && g["exact"] == record.exact);
    }
    assert_eq!(got["categories"].as_object().unwrap().keys().collect::<Vec<_>>(), ["地点", "训练"]);
    assert_eq!(got["categories"]["地点"]["n"], 2);
    assert!(close(&got["categories"]["地点"]["chrf"], want.categories["地点"].chrf));

    // Without ids, by line; --lang en; the human table.
    let plain = |v: &[&str]| v.iter().map(|o| serde_json::json!({"output": o})).collect::<Vec<_>>();
    let gold_plain = write("gold_plain.jsonl", &plain(&references));
    let pred_plain = write("pred_plain.jsonl", &plain(&outputs));
    let out = ok(&[
        "metrics",
        "--kind",
        "generate",
        "--gold",
        s(&gold_plain),
        "--pred",
        s(&pred_plain),
        "--lang",
        "en",
        "--json",
    ]);
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    let want = generation_report(&outputs, &references, None, Lang::En).unwrap();
    assert_eq!(got["lang"], "en");
    assert!(close(&got["bleu"], want.corpus.bleu) && close(&got["rouge_l"], want.corpus.rouge_l));
    let table = ok(&["metrics", "--kind", "generate", "--gold", s(&gold_plain), "--pred", s(&pred_plain)]);
    assert!(table.contains("chrF") && table.contains("BLEU") && table.contains("all"), "{table}");

    // Bad input names the file and the line.
    let metrics_fails = |gold: &Path, pred: &Path| {
        common::fails(&["metrics", "--kind", "generate", "--gold", s(gold), "--pred", s(pred), "--json"])
    };
    let not_json = tmp.path().join("not_json.jsonl");
    std::fs::write(&not_json, "{\"output\": \"a\"}\nnot json\n").unwrap();
    let err = metrics_fails(&gold_plain, &not_json);
    assert!(err.contains("not_json.jsonl:2: not a JSON object"), "{err}");
    let no_output = write("no_output.jsonl", &[serde_json::json!({"text": "a"})]);
    let err = metrics_fails(&no_output, &pred_plain);
    assert!(err.contains("no_output.jsonl:1: no \"output\""), "{err}");
    let stray = write(
        "stray.jsonl",
        &[serde_json::json!({"id": "r0", "output": "x"}), serde_json::json!({"id": "zz", "output": "y"})],
    );
    let err = metrics_fails(&gold_path, &stray);
    assert!(err.contains("stray.jsonl:2: id \"zz\" is not in the gold file"), "{err}");
    let short = write("short.jsonl", &plain(&outputs[..3]));
    let err = metrics_fails(&gold_plain, &short);
    assert!(err.contains("has 4 records but") && err.contains("has 3"), "{err}");
}

/// The interpreter with the Python references: `$FINELAB_PYTHON`, else the workspace's `.venv`.
fn reference_python() -> String {
    std::env::var("FINELAB_PYTHON").unwrap_or_else(|_| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    })
}

/// Every number of `got` (a `finelab agreement --json`) equals `want` (the reference) to 1e-9,
/// and a number the reference leaves undefined (null) is absent or null here.
fn same_agreement(got: &serde_json::Value, want: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match want {
        Value::Object(map) => {
            for (key, w) in map {
                let g = got.get(key).unwrap_or(&Value::Null);
                same_agreement(g, w, &format!("{at}.{key}"));
            }
        }
        Value::Array(items) => {
            let got = got.as_array().unwrap_or_else(|| panic!("{at}: {got} is not a list"));
            assert_eq!(got.len(), items.len(), "{at}: {got:?} against {items:?}");
            for (i, (g, w)) in got.iter().zip(items).enumerate() {
                same_agreement(g, w, &format!("{at}[{i}]"));
            }
        }
        Value::Number(w) => {
            let (g, w) = (got.as_f64().unwrap_or_else(|| panic!("{at}: {got} is not a number")), w.as_f64().unwrap());
            assert!((g - w).abs() <= 1e-9, "{at}: finelab {g}, reference {w}");
        }
        Value::Null => assert!(got.is_null(), "{at}: finelab {got}, the reference leaves it undefined"),
        other => assert_eq!(got, other, "{at}"),
    }
}

/// Teams at a terminal: users and their passwords, labels by four people, `finelab agreement
/// --json` equal to scikit-learn / statsmodels / krippendorff on the same labels (random,
/// seeded), the disagreements decided by a reviewer, and training on the decisions.
#[test]
fn users_agreement_and_adjudication_from_the_command_line() {
    use serde_json::{json, Value};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("team");
    ok(&["new", s(&dir), "--kind", "single", "--labels", "好评,差评,中评"]);
    let lines = tmp.path().join("records.jsonl");
    let texts = ["物流很快", "质量太差", "一般般"];
    let records: String = (0..60)
        .map(|i| format!("{}\n", json!({"id": (i + 1).to_string(), "text": format!("第{i}条：{}", texts[i % 3])})))
        .collect();
    std::fs::write(&lines, records).unwrap();
    ok(&["import", s(&dir), s(&lines)]);

    // Users: a password shown once, kept only as an argon2 hash.
    let added: Value =
        serde_json::from_str(&ok(&["user", "add", s(&dir), "王芳", "--role", "annotator", "--json"])).unwrap();
    let password = added["password"].as_str().unwrap().to_string();
    assert_eq!((password.len(), &added["user"]["role"]), (20, &json!("annotator")));
    ok(&["user", "add", s(&dir), "lead", "--role", "reviewer"]);
    let e = common::fails(&["user", "add", s(&dir), "王芳", "--role", "admin"]);
    assert!(e.contains("already exists"), "{e}");
    let e = common::fails(&["user", "add", s(&dir), "x", "--role", "owner"]);
    assert!(e.contains("owner"), "{e}");
    let reset: Value = serde_json::from_str(&ok(&["user", "reset", s(&dir), "王芳", "--json"])).unwrap();
    assert_ne!(reset["password"].as_str().unwrap(), password);
    let db = std::fs::read(dir.join("project.sqlite")).unwrap();
    assert!(!db.windows(password.len()).any(|w| w == password.as_bytes()), "no password in the database");
    let list: Value = serde_json::from_str(&ok(&["user", "list", s(&dir), "--json"])).unwrap();
    assert_eq!(
        list.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["lead", "王芳"]
    );
    ok(&["user", "remove", s(&dir), "lead"]);
    assert!(common::fails(&["user", "remove", s(&dir), "lead"]).contains("no user"));

    // Four annotators label random overlapping shares; a seeded generator (xorshift) decides.
    let labels = ["好评", "差评", "中评"];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let annotators = ["ann-a", "ann-b", "ann-c", "标注员d"];
    let mut items: Vec<Value> = Vec::new();
    for (k, who) in annotators.iter().enumerate() {
        let mut file = String::new();
        for i in 0..60u64 {
            if next(10) < 3 && k > 0 {
                continue; // not everyone labels everything
            }
            let truth = labels[(i % 3) as usize];
            let label = if next(100) < 25 + 10 * k as u64 { labels[next(3) as usize] } else { truth };
            file.push_str(&format!("{}\n", json!({"id": (i + 1).to_string(), "label": label})));
            items.push(json!({"record": i + 1, "annotator": who, "value": label}));
        }
        let path = tmp.path().join(format!("labels-{k}.jsonl"));
        std::fs::write(&path, file).unwrap();
        ok(&["annotate", s(&dir), s(&path), "--annotator", who]);
    }
    let got: Value = serde_json::from_str(&ok(&["agreement", s(&dir), "--json"])).unwrap();
    let cases = tmp.path().join("cases.json");
    let subset = ["ann-a", "ann-c", "标注员d"];
    std::fs::write(
        &cases,
        json!([
            {"kind": "single", "labels": labels, "only": null, "items": items},
            {"kind": "single", "labels": labels, "only": subset, "items": items},
        ])
        .to_string(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/reference/agreement_reference.py");
    let out = std::process::Command::new(reference_python()).arg(&script).arg(&cases).output().unwrap();
    assert!(out.status.success(), "the reference failed: {}", String::from_utf8_lossy(&out.stderr));
    let want: Value = serde_json::from_slice(&out.stdout).unwrap();
    same_agreement(&got, &want[0], "agreement");
    assert_eq!(got["pairs"].as_array().unwrap().len(), 6);
    let only: Value =
        serde_json::from_str(&ok(&["agreement", s(&dir), "--annotators", &subset.join(","), "--json"])).unwrap();
    same_agreement(&only, &want[1], "agreement --annotators");
    assert!(ok(&["agreement", s(&dir)]).contains("Krippendorff"));

    // The disagreements; a reviewer decides some of them; training uses the decisions.
    let page: Value = serde_json::from_str(&ok(&["disagreements", s(&dir), "--limit", "1000", "--json"])).unwrap();
    let undecided = page["total"].as_u64().unwrap();
    assert!(undecided > 10, "{page}");
    assert_eq!(got["n_undecided"], json!(undecided));
    let decided: Vec<String> = page["records"].as_array().unwrap()[..10]
        .iter()
        .map(|r| r["view"]["record"]["id"].as_str().unwrap().to_string())
        .collect();
    let decisions = tmp.path().join("decisions.jsonl");
    std::fs::write(
        &decisions,
        decided.iter().map(|id| format!("{}\n", json!({"id": id, "label": "中评"}))).collect::<String>(),
    )
    .unwrap();
    ok(&["annotate", s(&dir), s(&decisions), "--annotator", "lead", "--decisions"]);
    let page: Value = serde_json::from_str(&ok(&["disagreements", s(&dir), "--json"])).unwrap();
    assert_eq!(page["total"].as_u64().unwrap(), undecided - 10);
    let pair: Value =
        serde_json::from_str(&ok(&["disagreements", s(&dir), "--pair", "ann-a,ann-b", "--json"])).unwrap();
    for r in pair["records"].as_array().unwrap() {
        let by: std::collections::HashMap<&str, &Value> =
            r["labels"].as_array().unwrap().iter().map(|l| (l["annotator"].as_str().unwrap(), &l["value"])).collect();
        assert_ne!(by["ann-a"], by["ann-b"], "{r}");
    }
    // Agreement is measured on the annotators' labels, not on the decisions.
    let after: Value = serde_json::from_str(&ok(&["agreement", s(&dir), "--json"])).unwrap();
    same_agreement(&after, &want[0], "agreement after the decisions");

    ok(&["train", s(&dir), "--model", "instant", "--epochs", "1"]);
    let runs: Value = serde_json::from_str(&ok(&["runs", s(&dir), "--json"])).unwrap();
    let rules = &runs[0]["label_rules"];
    assert_eq!(rules["adjudicated"], json!(10), "{rules}");
    let export = tmp.path().join("final.jsonl");
    ok(&["export", s(&dir), "-o", s(&export), "--labeled-only"]);
    let exported = std::fs::read_to_string(&export).unwrap();
    for id in &decided {
        let line = exported.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|r| r["id"] == json!(id));
        assert_eq!(line.unwrap()["label"], json!("中评"), "the export writes the decision of {id}");
    }

    // A label given after the decision does not overrule it; every annotator's label on request.
    let late = tmp.path().join("late.jsonl");
    std::fs::write(&late, format!("{}\n", json!({"id": decided[0], "label": "好评"}))).unwrap();
    ok(&["annotate", s(&dir), s(&late), "--annotator", "ann-a"]);
    ok(&["export", s(&dir), "-o", s(&export), "--labeled-only", "--annotations"]);
    let first = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["id"] == json!(decided[0]))
        .unwrap();
    assert_eq!((&first["label"], &first["annotator"]), (&json!("中评"), &json!("lead")), "{first}");
    assert_eq!(first["annotations"]["ann-a"], json!({"label": "好评"}), "{first}");
    assert!(first["annotations"].get("lead").is_none(), "a decision is not an annotator's label: {first}");

    let people: Value = serde_json::from_str(&ok(&["people", s(&dir), "--json"])).unwrap();
    let a = people.as_array().unwrap().iter().find(|p| p["annotator"] == "ann-a").unwrap();
    assert_eq!(a["labeled"], json!(60));
    assert!(a["agreement_with_others"].as_f64().is_some() && a["n_decided"].as_u64().unwrap() > 0, "{a}");
    assert!(a["suspected_noise"].is_null(), "only when asked for");
    // The noisiest annotator (55 % random labels against 25 %) has the most labels doubted.
    let people: Value = serde_json::from_str(&ok(&["people", s(&dir), "--noise", "--json"])).unwrap();
    let noise = |who: &str| {
        let p = people.as_array().unwrap().iter().find(|p| p["annotator"] == who).unwrap();
        p["suspected_noise"].as_f64().unwrap()
    };
    assert!(noise("标注员d") > noise("ann-a"), "{people}");
}

/// A lead gives a slice (what a search finds) to named people: it is served only to them.
#[test]
fn slices_given_to_people_are_served_only_to_them() {
    use serde_json::{json, Value};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    ok(&["new", s(&dir), "--kind", "single", "--labels", "pos,neg"]);
    let records = tmp.path().join("r.jsonl");
    let texts = ["物流很快", "质量太差", "客服不错"];
    let lines: String = (0..9)
        .map(|i| format!("{}\n", json!({"id": format!("r{i}"), "text": format!("{}{i}", texts[i % 3])})))
        .collect();
    std::fs::write(&records, lines).unwrap();
    ok(&["import", s(&dir), s(&records)]);
    let made: Value =
        serde_json::from_str(&ok(&["assign", s(&dir), "--to", "专家,lead", "--text", "物流", "--json"])).unwrap();
    assert_eq!(made["records"], json!(3), "{made}");
    let next = |who: &str| -> Vec<String> {
        ok(&["next", s(&dir), "--annotator", who, "--n", "20", "--json"])
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["record"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    let slice = ["r0", "r3", "r6"];
    let other = next("someone");
    assert_eq!(other.len(), 6, "{other:?}");
    assert!(other.iter().all(|id| !slice.contains(&id.as_str())), "{other:?}");
    assert_eq!(next("专家").len(), 9, "the slice and everything unassigned");
    let listed: Value = serde_json::from_str(&ok(&["assign", s(&dir), "--json"])).unwrap();
    assert_eq!(listed[0]["people"], json!(["lead", "专家"]));
    let id = listed[0]["id"].as_i64().unwrap().to_string();
    ok(&["assign", s(&dir), "--remove", &id]);
    assert_eq!(next("someone").len(), 9, "a slice taken back goes to anyone");
    assert!(common::fails(&["assign", s(&dir), "--remove", &id]).contains("no assignment"));
}
