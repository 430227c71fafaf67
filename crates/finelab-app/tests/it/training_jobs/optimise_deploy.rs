//! Optimise and deploy from the window: a run served over HTTP with its production traffic logged,
//! distilled into a smaller model, pruned and quantized.

use super::*;

/// Deploy from the window: a run's model served over HTTP by this process, classify requests
/// answered as `predict_batch` answers, counted live, the served texts back in the project as
/// production records once the deployment stops, and the port closed after it.
#[test]
fn a_run_deployed_from_the_window_answers_over_http_and_logs_production_traffic() {
    use finelab_app::deploy::{DeployRequest, Deployment};
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 60, 0);
    let d = dir.display().to_string();
    let (done, _) = finelab_app::training_jobs::train_and_predict(
        &dir,
        &TrainRequest { model: "instant".into(), ..TrainRequest::default() },
        &mut |_| train::Control::Continue,
        &mut |_, _| true,
    )
    .unwrap();
    let deployed: Deployment =
        ok(&ctx, Request::Deploy { dir: d.clone(), run: done.run.clone(), request: DeployRequest::default() });
    assert!(deployed.url.starts_with("http://127.0.0.1:") && deployed.route == "/v1/classify" && deployed.logging);
    assert!(deployed.curl.contains(&format!("{}/v1/classify", deployed.url)), "{}", deployed.curl);
    let again = err(&ctx, Request::Deploy { dir: d.clone(), run: done.run.clone(), request: DeployRequest::default() });
    assert!(again.message.contains("served already"), "{}", again.message);

    let texts = ["质量很好，物流也快，推荐购买", "太差了，用了两天就坏了", "一般般吧，价格还可以"];
    let body: serde_json::Value = ureq::post(&format!("{}/v1/classify", deployed.url))
        .send_json(serde_json::json!({"model": done.run, "texts": texts}))
        .unwrap()
        .into_json()
        .unwrap();
    let predictor = finelab_app::predict::load_model(&done.model_dir).unwrap();
    let want = predictor.predict_batch(&texts).unwrap();
    let got: Vec<&str> = body["results"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    let want_labels: Vec<String> = want
        .iter()
        .map(|p| match p {
            finelab_train::Prediction::Single { label, .. } => label.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, want_labels);
    let listed: Vec<Deployment> = ok(&ctx, Request::ListDeployments { dir: Some(d.clone()) });
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].requests, listed[0].ok), (1, 1));
    let none: Vec<Deployment> = ok(&ctx, Request::ListDeployments { dir: Some(tmp.path().display().to_string()) });
    assert!(none.is_empty());

    let left: Vec<Deployment> = ok(&ctx, Request::StopDeployment { id: deployed.id });
    assert!(left.is_empty());
    assert!(ureq::post(&format!("{}/v1/classify", deployed.url))
        .send_json(serde_json::json!({"texts": ["x"]}))
        .is_err());
    // What it served waits unlabeled in the project, marked as production traffic; the label
    // screen's production order serves only those, the least sure when served first.
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.n_production_unlabeled().unwrap(), 3);
    let batch: finelab_app::active::NextBatch = ok(
        &ctx,
        Request::NextBatch {
            dir: d.clone(),
            annotator: "ann".into(),
            n: 10,
            strategy: finelab_app::active::Strategy::Production,
            seed: None,
            label: None,
        },
    );
    let served: Vec<(String, f64)> =
        batch.records.iter().map(|r| (r.view.record.text.clone(), r.uncertainty.unwrap())).collect();
    let mut want: Vec<(String, f64)> =
        texts.iter().zip(&want).map(|(t, p)| (t.to_string(), finelab_app::active::uncertainty(p))).collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1));
    assert_eq!(served, want);
    for r in &batch.records {
        assert_eq!(r.view.record.meta.as_ref().unwrap()["source"], "production");
    }
}

/// Distil from the window: the teacher's probabilities over the train split and the unlabeled
/// records (those labeled by the teacher's top label and added to the train split), and a
/// one-layer student trained on them as a run linked to its teacher.
#[test]
fn a_transformer_run_distilled_from_the_window_learns_its_predictions_over_the_unlabeled_records() {
    use finelab_app::optimize::{OptimizeMethod, OptimizeRequest, RunCost};
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 40, 10);
    let d = dir.display().to_string();
    let model = tmp.path().join("tiny-bert");
    finelab_app::models::make_tiny_model(&model, &dir, 32, 2, 7).unwrap();
    let base = TrainRequest {
        model: model.display().to_string(),
        epochs: Some(2),
        batch_size: Some(8),
        device: Some("cpu".into()),
        ..TrainRequest::default()
    };
    let teacher = done_of(follow(&ctx, start(&ctx, &d, base).id, |_| {}).last().unwrap()).run;
    let store = Store::open(&dir).unwrap();
    let teacher_dir = dir.join(store.run(&teacher).unwrap().model_dir.unwrap());

    // What the student learns: the teacher's probabilities, the unlabeled records added.
    let labels = vec!["pos".to_string(), "neg".to_string()];
    let train: Vec<finelab_train::Example> = store
        .labeled_records()
        .unwrap()
        .into_iter()
        .filter(|r| r.split == Some(Split::Train))
        .map(|r| finelab_train::Example {
            id: r.id,
            text: r.text,
            target: finelab_train::Target::Single(match r.value {
                AnnotationValue::Label(l) => l,
                other => panic!("{other:?}"),
            }),
        })
        .collect();
    let data = finelab_train::Dataset {
        task: finelab_train::Task::Single,
        labels: labels.clone(),
        train: train.clone(),
        dev: Vec::new(),
        test: Vec::new(),
    };
    let (set, soft) = finelab_app::distill::training_set(&dir, &teacher_dir, &data).unwrap();
    assert_eq!(set.train.len(), train.len() + 20, "the 20 unlabeled records are added");
    let teacher_model = finelab_app::predict::load_model(&teacher_dir).unwrap();
    for e in &set.train {
        let finelab_train::Prediction::Single { label, scores } = teacher_model.predict(&e.text) else { panic!() };
        let want: Vec<f32> = labels.iter().map(|l| scores[l]).collect();
        assert!(soft[&e.id].iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5), "{:?} vs {want:?}", soft[&e.id]);
        if e.id.starts_with("unlabeled-") {
            assert_eq!(e.target, finelab_train::Target::Single(label));
        }
    }

    let job: JobState = ok(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest {
                run: teacher.clone(),
                method: OptimizeMethod::Distill,
                layers: Some(1),
                epochs: Some(2),
            },
        },
    );
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let student = done_of(&last).run;
    let row = store.run(&student).unwrap();
    assert_eq!(row.config["optimized_from"], serde_json::json!({"run": teacher, "method": "distill", "layers": 1}));
    // The run counts its labeled train split, as every run does (its data snapshot).
    assert_eq!(row.n_train as usize, train.len());
    assert_eq!(row.status, finelab_store::RunStatus::Completed);
    let costs: Vec<RunCost> = ok(&ctx, Request::RunCosts { dir: d.clone(), speed: Some(false) });
    let c = costs.iter().find(|c| c.run == student).unwrap();
    assert_eq!(c.layers, Some(1));
    assert!(c.agreement_with_parent.is_some());
}

/// Optimise from the window: a transformer run pruned to its first encoder layer and fine-tuned
/// again as a run that records its parent; the runs compared by size, CPU speed, macro-F1 and
/// agreement (the share of test records both predicted alike, counted here from their stored
/// predictions); a run that is not a transformer's is refused with the reason. Then the same
/// parent quantized to int8: stored as int8, its stored predictions its own, its scores close
/// to the parent's.
#[test]
fn a_transformer_run_pruned_or_quantized_from_the_window_is_a_smaller_run_linked_to_its_parent() {
    use finelab_app::optimize::{OptimizeMethod, OptimizeRequest, RunCost};
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 60, 0);
    let d = dir.display().to_string();
    let model = tmp.path().join("tiny-bert");
    finelab_app::models::make_tiny_model(&model, &dir, 32, 2, 7).unwrap();
    let base = TrainRequest {
        model: model.display().to_string(),
        epochs: Some(2),
        batch_size: Some(8),
        device: Some("cpu".into()),
        ..TrainRequest::default()
    };
    let parent = done_of(follow(&ctx, start(&ctx, &d, base).id, |_| {}).last().unwrap()).run;
    let instant = finelab_app::training_jobs::train_and_predict(
        &dir,
        &TrainRequest::default(),
        &mut |_| train::Control::Continue,
        &mut |_, _| true,
    )
    .unwrap()
    .0
    .run;
    let refused = err(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest {
                run: instant.clone(),
                method: OptimizeMethod::Prune,
                layers: None,
                epochs: None,
            },
        },
    );
    assert!(refused.message.contains("transformer run"), "{}", refused.message);
    let too_many = err(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest {
                run: parent.clone(),
                method: OptimizeMethod::Prune,
                layers: Some(2),
                epochs: None,
            },
        },
    );
    assert!(too_many.message.contains("keep between 1 and 1"), "{}", too_many.message);

    let job: JobState = ok(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest {
                run: parent.clone(),
                method: OptimizeMethod::Prune,
                layers: None,
                epochs: Some(1),
            },
        },
    );
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let child = done_of(&last).run;
    let store = Store::open(&dir).unwrap();
    let row = store.run(&child).unwrap();
    assert_eq!(row.config["optimized_from"], serde_json::json!({"run": parent, "method": "prune", "layers": 1}));
    assert_eq!(row.config["epochs"], 1);

    let costs: Vec<RunCost> = ok(&ctx, Request::RunCosts { dir: d.clone(), speed: Some(true) });
    let of = |run: &str| costs.iter().find(|c| c.run == run).unwrap().clone();
    let (p, c) = (of(&parent), of(&child));
    assert_eq!((p.layers, c.layers), (Some(2), Some(1)));
    assert!(c.size_bytes < p.size_bytes, "{} vs {}", c.size_bytes, p.size_bytes);
    assert!(p.samples_per_sec.unwrap() > 0.0 && c.samples_per_sec.unwrap() > 0.0 && c.n_timed > 0);
    assert_eq!(c.macro_f1, row.test_report.as_ref().unwrap()["macro avg"]["f1-score"].as_f64());
    // Agreement: the share of test records the two predicted alike, from their stored predictions.
    let predicted = |run: &str| -> BTreeMap<i64, AnnotationValue> {
        let query = RunRecordsQuery { split: Some(Split::Test), limit: Some(1000), ..RunRecordsQuery::default() };
        store.run_records(run, &query).unwrap().rows.into_iter().map(|r| (r.record.seq, r.predicted)).collect()
    };
    let (a, b) = (predicted(&parent), predicted(&child));
    let same = a.iter().filter(|(seq, v)| b.get(seq) == Some(v)).count() as f64 / a.len() as f64;
    assert_eq!(c.agreement_with_parent, Some(same));
    assert_eq!(p.agreement_with_parent, None);
    assert!(of(&instant).layers.is_none());

    // int8: the parent's encoder quantized, nothing trained, scored on the same test records.
    let job: JobState = ok(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest { run: parent.clone(), method: OptimizeMethod::Int8, layers: None, epochs: None },
        },
    );
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let quantized = done_of(&last).run;
    let row = store.run(&quantized).unwrap();
    assert_eq!(row.config["optimized_from"], serde_json::json!({"run": parent, "method": "int8", "layers": null}));
    assert_eq!(row.status, finelab_store::RunStatus::Completed);
    let model_dir = dir.join(row.model_dir.as_deref().unwrap());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_dir.join("finelab-model.json")).unwrap()).unwrap();
    assert_eq!(meta["quantization"], "int8");
    // The dense weights are stored as int8 with one scale a row.
    let weights = std::fs::read(model_dir.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&weights).unwrap();
    let query = file.tensor("bert.encoder.layer.0.attention.self.query.weight").unwrap();
    assert_eq!(query.dtype(), safetensors::Dtype::I8);
    assert_eq!(file.tensor("bert.encoder.layer.0.attention.self.query.weight_scale").unwrap().shape(), &[32]);
    // The stored test predictions are the int8 model's, and its scores stay close to the
    // parent's.
    let test_texts: Vec<(i64, String)> = store
        .labeled_records()
        .unwrap()
        .into_iter()
        .filter(|r| r.split == Some(Split::Test))
        .map(|r| (r.seq, r.text))
        .collect();
    let texts: Vec<&str> = test_texts.iter().map(|(_, t)| t.as_str()).collect();
    let int8 = finelab_app::predict::load_model(&model_dir).unwrap().predict_batch(&texts).unwrap();
    let parent_dir = dir.join(store.run(&parent).unwrap().model_dir.unwrap());
    let f32_predictions = finelab_app::predict::load_model(&parent_dir).unwrap().predict_batch(&texts).unwrap();
    let stored = predicted(&quantized);
    for (((seq, _), q), f) in test_texts.iter().zip(&int8).zip(&f32_predictions) {
        assert_eq!(stored[seq], finelab_app::training_jobs::prediction_value(q).0);
        let (
            finelab_train::Prediction::Single { scores: qs, .. },
            finelab_train::Prediction::Single { scores: fs, .. },
        ) = (q, f)
        else {
            panic!("single-label predictions expected")
        };
        for (label, s) in qs {
            assert!((s - fs[label]).abs() < 0.05, "{label}: int8 {s} against f32 {}", fs[label]);
        }
    }
    let costs: Vec<RunCost> = ok(&ctx, Request::RunCosts { dir: d.clone(), speed: Some(false) });
    let q = costs.iter().find(|c| c.run == quantized).unwrap();
    assert!(q.size_bytes < p.size_bytes, "{} vs {}", q.size_bytes, p.size_bytes);
    assert_eq!(q.layers, Some(2));
    assert_eq!(q.macro_f1, row.test_report.as_ref().unwrap()["macro avg"]["f1-score"].as_f64());
    let (a, b) = (predicted(&parent), predicted(&quantized));
    let same = a.iter().filter(|(seq, v)| b.get(seq) == Some(v)).count() as f64 / a.len() as f64;
    assert_eq!(q.agreement_with_parent, Some(same));
    // Quantizing it again is refused.
    let again = err(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest { run: quantized, method: OptimizeMethod::Int8, layers: None, epochs: None },
        },
    );
    assert!(again.message.contains("int8 already"), "{}", again.message);
}
