//! Generate projects from the window: drafts, blind comparisons, preference pairs, and GGUF exports
//! that answer with their quantized weights.

use super::*;

/// A generate project in the window: a generator trained as a job (tokens/s live, answers to fixed
/// dev records after each epoch, the memory estimated first), drafts for the label screen (a dev
/// record's stored output, an unlabeled record's generated now), a label written from a draft
/// with its edit logged, the run's outputs worst first with chrF and diff, a blind comparison
/// judged and undone, its tally, and the judged pairs exported for preference training.
#[test]
fn a_generate_project_drafts_compares_blind_and_exports_preference_pairs() {
    use finelab_app::generation::{ComparisonRequest, Draft, GenOrder, GenRecordsPage, GenRecordsQuery};
    use finelab_app::memory::TrainMemory;
    use finelab_store::{Comparison, ComparisonItem, PreferenceReceipt, Preferred};
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let (dir, base) = common::proverbs_project(tmp.path());
    let d = dir.display().to_string();
    // Two inputs without an output: the label screen serves them.
    let unlabeled = tmp.path().join("new.jsonl");
    std::fs::write(&unlabeled, "{\"id\": \"u1\", \"input\": \"a stitch in time saves nine\"}\n{\"id\": \"u2\", \"input\": \"look before you leap\"}\n").unwrap();
    common::import(&dir, &unlabeled, None);
    let request = |seed: u64, epochs: usize| TrainRequest {
        model: base.display().to_string(),
        epochs: Some(epochs),
        batch_size: Some(4),
        device: Some("cpu".into()),
        lora_rank: Some(4),
        max_new_tokens: Some(8),
        seed: Some(seed),
        ..TrainRequest::default()
    };

    let memory: Option<TrainMemory> = ok(&ctx, Request::EstimateTrainMemory { dir: d.clone(), request: request(1, 2) });
    let memory = memory.expect("a generator's memory is estimated");
    assert!(memory.trainable_params > 0 && memory.trainable_params < memory.params / 4, "{memory:?}");
    assert_eq!(memory.total_bytes, memory.weights_bytes + memory.optimizer_bytes + memory.activations_bytes);
    assert_eq!(memory.weights_bytes, 4 * memory.params);
    let none: Option<TrainMemory> = ok(
        &ctx,
        Request::EstimateTrainMemory {
            dir: d.clone(),
            request: TrainRequest { model: "instant".into(), ..TrainRequest::default() },
        },
    );
    assert!(none.is_none());

    let first = start(&ctx, &d, request(1, 2));
    let states = follow(&ctx, first.id, |_| {});
    let last = states.last().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let run_a = done_of(last).run;
    let progress: Vec<_> = states.iter().filter_map(|s| s.train.clone()).collect();
    assert!(progress.iter().any(|p| p.tokens_per_sec.is_some_and(|t| t > 0.0)), "tokens/s while it trains");
    let samples = &progress.last().unwrap().samples;
    assert_eq!(samples.len(), 2, "the two dev records, answered after each epoch: {samples:?}");
    assert!(samples.iter().all(|s| s.reference.starts_with("reversed: ")));
    let second = start(&ctx, &d, request(7, 1));
    let last = follow(&ctx, second.id, |_| {}).pop().unwrap();
    let run_b = done_of(&last).run;

    // Drafts: the newest generator's stored output for a dev record, generated now for a new one.
    let store = Store::open(&dir).unwrap();
    let dev_seq = store.labeled_records().unwrap().into_iter().find(|r| r.split == Some(Split::Dev)).unwrap().seq;
    let stored: Option<Draft> = ok(&ctx, Request::Draft { dir: d.clone(), seq: dev_seq });
    let stored = stored.unwrap();
    assert_eq!((stored.run.as_str(), stored.stored), (run_b.as_str(), true));
    let outputs_b = store.run_outputs(&run_b).unwrap();
    assert_eq!(outputs_b.iter().find(|o| o.seq == dev_seq).unwrap().output, stored.output);
    let next: Option<RecordView> =
        ok(&ctx, Request::NextRecord { dir: d.clone(), annotator: "ann".into(), after_seq: None });
    let next = next.unwrap();
    assert_eq!(next.record.id, "u1");
    let fresh: Option<Draft> = ok(&ctx, Request::Draft { dir: d.clone(), seq: next.record.seq });
    let fresh = fresh.unwrap();
    assert!(!fresh.stored && fresh.run == run_b);
    // The same model, greedy: asking again gives the same draft (the loaded model is kept).
    let again: Option<Draft> = ok(&ctx, Request::Draft { dir: d.clone(), seq: next.record.seq });
    assert_eq!(again.unwrap().output, fresh.output);
    let written = format!("{}!", fresh.output);
    let _: serde_json::Value = ok(
        &ctx,
        Request::Annotate {
            dir: d.clone(),
            seq: next.record.seq,
            annotator: "ann".into(),
            action: Action::Label { value: AnnotationValue::Output(written.clone()) },
            draft: Some(finelab_app::generation::DraftUsed { run: fresh.run.clone(), text: fresh.output.clone() }),
        },
    );
    let view: RecordView = ok(&ctx, Request::GetRecord { dir: d.clone(), seq: next.record.seq });
    assert_eq!(view.value, Some(AnnotationValue::Output(written)));

    // The run's outputs, worst first, each chrF sacrebleu's sentence chrF, the diff both sides.
    let page: GenRecordsPage = ok(
        &ctx,
        Request::GenerationRecords {
            dir: d.clone(),
            run: run_a.clone(),
            query: GenRecordsQuery { other: Some(run_b.clone()), ..Default::default() },
        },
    );
    assert_eq!(page.total, 4);
    assert_eq!(page.histogram.iter().sum::<u64>(), 4);
    assert_eq!((page.draft_edits.n, page.draft_edits.n_unchanged, page.draft_edits.mean_distance), (1, 0, 1.0));
    for pair in page.rows.windows(2) {
        assert!(pair[0].chrf <= pair[1].chrf);
    }
    for row in &page.rows {
        assert_eq!(row.chrf, finelab_train::gen_metrics::sentence_chrf(&row.output, &row.reference));
        let side = |skip: &str| row.diff.iter().filter(|p| p.op != skip).map(|p| p.text.as_str()).collect::<String>();
        assert_eq!((side("insert"), side("delete")), (row.reference.clone(), row.output.clone()));
        assert_eq!(
            row.other_output.as_deref(),
            outputs_b.iter().find(|o| o.seq == row.record.seq).map(|o| o.output.as_str())
        );
    }
    let mean = page.rows.iter().map(|r| r.chrf).sum::<f64>() / 4.0;
    assert!((page.mean_chrf - mean).abs() < 1e-9);
    let best: GenRecordsPage = ok(
        &ctx,
        Request::GenerationRecords {
            dir: d.clone(),
            run: run_a.clone(),
            query: GenRecordsQuery {
                order: Some(GenOrder::Best),
                limit: Some(1),
                split: Some(Split::Test),
                ..Default::default()
            },
        },
    );
    assert_eq!((best.total, best.rows.len()), (2, 1));

    // A blind comparison of run A against the references: items never say which side is which.
    let comparison: Comparison = ok(
        &ctx,
        Request::StartComparison {
            dir: d.clone(),
            request: ComparisonRequest { a: format!("run:{run_a}"), b: "reference".into(), n: Some(10), seed: Some(3) },
            by: "lead".into(),
        },
    );
    assert_eq!(comparison.n_items + comparison.n_identical, 4);
    assert!(comparison.n_items >= 2, "a tiny model trained two epochs does not write every reference: {comparison:?}");
    let mut judged = Vec::new();
    let mut after = None;
    let picks = [Preferred::Left, Preferred::Right, Preferred::Tie, Preferred::Left];
    for (i, pick) in picks.iter().cycle().take(comparison.n_items as usize).enumerate() {
        let item: Option<ComparisonItem> = ok(
            &ctx,
            Request::NextComparisonItem { dir: d.clone(), comparison: comparison.id, annotator: "ann".into(), after },
        );
        let item = item.unwrap();
        assert_eq!(item.n_done, i as u64);
        let json = serde_json::to_value(&item).unwrap();
        assert!(json.get("source_a").is_none() && !json.to_string().contains(&run_a), "blind: {json}");
        let _: PreferenceReceipt = ok(
            &ctx,
            Request::Prefer {
                dir: d.clone(),
                comparison: comparison.id,
                position: item.position,
                annotator: "ann".into(),
                pick: *pick,
            },
        );
        // Which source the pick chose: the side showing run A's output.
        let a_output =
            store.run_outputs(&run_a).unwrap().into_iter().find(|o| o.seq == item.record.seq).unwrap().output;
        let chose_a = match pick {
            Preferred::Left => Some(item.left == a_output),
            Preferred::Right => Some(item.right == a_output),
            Preferred::Tie => None,
        };
        judged.push((item.position, chose_a));
        after = Some(item.position);
    }
    let done: Option<ComparisonItem> = ok(
        &ctx,
        Request::NextComparisonItem { dir: d.clone(), comparison: comparison.id, annotator: "ann".into(), after },
    );
    assert!(done.is_none());
    // Undo takes the last judgement back: that item is served again.
    let undone: Option<PreferenceReceipt> =
        ok(&ctx, Request::UndoPreference { dir: d.clone(), comparison: comparison.id, annotator: "ann".into() });
    assert_eq!(undone.unwrap().position, judged.last().unwrap().0);
    judged.pop();
    let back: Option<ComparisonItem> = ok(
        &ctx,
        Request::NextComparisonItem { dir: d.clone(), comparison: comparison.id, annotator: "ann".into(), after: None },
    );
    assert_eq!(back.unwrap().position, comparison.n_items - 1);
    let report: finelab_app::generation::ComparisonReport =
        ok(&ctx, Request::ComparisonReport { dir: d.clone(), comparison: comparison.id });
    let wins_a = judged.iter().filter(|j| j.1 == Some(true)).count() as u64;
    let wins_b = judged.iter().filter(|j| j.1 == Some(false)).count() as u64;
    let ties = judged.iter().filter(|j| j.1.is_none()).count() as u64;
    assert_eq!((report.wins_a, report.wins_b, report.ties), (wins_a, wins_b, ties));
    assert_eq!(report.comparison.n_judged, judged.len() as u64);
    let interval = finelab_train::metrics::wilson_interval(wins_a, wins_a + wins_b, finelab_train::metrics::Z_95);
    assert_eq!((report.ci_low, report.ci_high), (interval.map(|i| i.0), interval.map(|i| i.1)));

    // The judged pairs as preference-training lines: ties left out, chosen the preferred output.
    let dest = tmp.path().join("pairs.jsonl");
    let n: u64 = ok(&ctx, Request::ExportPreferences { dir: d.clone(), dest: dest.display().to_string() });
    assert_eq!(n, wins_a + wins_b);
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&dest).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, n);
    let references: BTreeMap<String, String> = store
        .labeled_records()
        .unwrap()
        .into_iter()
        .filter_map(|r| Some((r.text.clone(), r.value.as_output()?.to_string())))
        .collect();
    for line in &lines {
        let keys: BTreeSet<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["chosen", "prompt", "rejected"]));
        assert_eq!(line["prompt"][0]["role"], "user");
        let input = line["prompt"][0]["content"].as_str().unwrap();
        let (chosen, rejected) =
            (line["chosen"][0]["content"].as_str().unwrap(), line["rejected"][0]["content"].as_str().unwrap());
        assert_eq!(line["chosen"][0]["role"], "assistant");
        assert_ne!(chosen, rejected);
        assert!(references[input] == chosen || references[input] == rejected, "one side is the reference");
    }
}

/// A generator run exported as GGUF from the window (`q8_0`): a new run linked to its parent whose
/// folder holds the merged weights and `model-q8_0.gguf`, whose stored dev and test answers are
/// those Finelab generates with the quantized weights, and whose size in the runs' table is the
/// file's (its LoRA parent's counts the base weights it needs). A classifier method on a
/// generator, and a second quantization, are refused.
#[test]
fn a_generator_run_exported_as_gguf_from_the_window_answers_with_its_quantized_weights() {
    use finelab_app::optimize::{OptimizeMethod, OptimizeRequest, RunCost};
    use finelab_train::generator::generate::GenerateOptions;
    use finelab_train::generator::gguf::GgufQuant;
    use finelab_train::generator::template::Message;
    use finelab_train::generator::GeneratorModel;
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let (dir, base) = common::proverbs_project(tmp.path());
    let d = dir.display().to_string();
    let request = TrainRequest {
        model: base.display().to_string(),
        epochs: Some(2),
        batch_size: Some(4),
        device: Some("cpu".into()),
        lora_rank: Some(4),
        max_new_tokens: Some(8),
        ..TrainRequest::default()
    };
    let parent = done_of(follow(&ctx, start(&ctx, &d, request).id, |_| {}).last().unwrap()).run;
    let optimize = |run: &str, method: OptimizeMethod| Request::StartOptimize {
        dir: d.clone(),
        request: OptimizeRequest { run: run.to_string(), method, layers: None, epochs: None },
    };
    let refused = err(&ctx, optimize(&parent, OptimizeMethod::Int8));
    assert!(refused.message.contains("takes a transformer run"), "{}", refused.message);

    let job: JobState = ok(&ctx, optimize(&parent, OptimizeMethod::Q8_0));
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let child = done_of(&last).run;
    let costs: Vec<RunCost> = ok(&ctx, Request::RunCosts { dir: d.clone(), speed: Some(false) });
    let row = |run: &str| costs.iter().find(|c| c.run == run).unwrap_or_else(|| panic!("{run} in {costs:?}")).clone();
    let (mine, theirs) = (row(&child), row(&parent));
    let from = mine.optimized_from.clone().unwrap();
    assert_eq!((from.run.as_str(), from.method.as_str()), (parent.as_str(), "q8_0"));
    let file = mine.gguf.clone().expect("the GGUF file in the table");
    assert!(file.ends_with("model-q8_0.gguf"));
    assert_eq!(mine.size_bytes, std::fs::metadata(&file).unwrap().len());
    let base_weights = std::fs::metadata(base.join("model.safetensors")).unwrap().len();
    assert!(theirs.size_bytes > base_weights, "the LoRA parent counts its base weights: {theirs:?}");
    assert!(mine.size_bytes < theirs.size_bytes, "{} B for q8_0 against {} B", mine.size_bytes, theirs.size_bytes);
    assert!(mine.chrf.is_some() && mine.agreement_with_parent.is_some(), "{mine:?}");

    // The stored answers are what the quantized folder generates.
    let model_dir = file.parent().unwrap();
    assert_eq!(GeneratorModel::quantization(model_dir), Some(GgufQuant::Q8_0));
    let model = GeneratorModel::load(model_dir).unwrap();
    let store = Store::open(&dir).unwrap();
    let page =
        store.run_records(&child, &RunRecordsQuery { split: Some(Split::Test), ..RunRecordsQuery::default() }).unwrap();
    assert!(page.total > 0);
    let dialogs: Vec<Vec<Message>> = page.rows.iter().map(|r| vec![Message::new("user", &r.record.text)]).collect();
    let answers = model.generate(&dialogs, &GenerateOptions { max_new_tokens: 8, ..Default::default() }).unwrap();
    let stored: Vec<String> = page
        .rows
        .iter()
        .map(|r| match &r.predicted {
            AnnotationValue::Output(o) => o.clone(),
            other => panic!("an output expected, not {other:?}"),
        })
        .collect();
    assert_eq!(stored, answers);

    let again = err(&ctx, optimize(&child, OptimizeMethod::Q4KM));
    assert!(again.message.contains("quantized to q8_0 already"), "{}", again.message);
}
