//! Import → export JSONL → import into a new project → the same records, labels, spans, splits.

use crate::common;
use common::*;
use finelab_store::import::ImportOptions;
use finelab_store::ProjectKind;

fn roundtrip(kind: ProjectKind, labels: &[&str], jsonl: &str) -> Vec<serde_json::Value> {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = new_project(&tmp.path().join("a"), kind, labels);
    let src = write(tmp.path(), "in.jsonl", jsonl);
    let report = import(&mut a, &src, &ImportOptions::default());
    assert_eq!(report.n_rejected, 0, "{:?}", report.rejected);
    a.assign_splits().unwrap();
    let first = export_jsonl(&a);
    let dump = write(tmp.path(), "a.jsonl", first.iter().map(|v| format!("{v}\n")).collect::<String>());
    let mut b = new_project(&tmp.path().join("b"), kind, labels);
    let report = import(&mut b, &dump, &ImportOptions::default());
    assert_eq!(report.n_rejected, 0, "{:?}", report.rejected);
    let second = export_jsonl(&b);
    assert_eq!(first, second);
    assert_eq!(a.stats().unwrap().labels, b.stats().unwrap().labels);
    first
}

#[test]
fn spans_chinese_emoji_mixed() {
    let out = roundtrip(
        ProjectKind::Spans,
        &["PER", "LOC", "ORG", "PRODUCT"],
        concat!(
            r#"{"id": "a1", "text": "张三在北京的华为上班。", "spans": [{"start": 0, "end": 2, "label": "PER"}, {"start": 3, "end": 5, "label": "LOC"}, {"start": 6, "end": 8, "label": "ORG"}]}"#,
            "\n",
            r#"{"id": "a2", "text": "😀😀 我用iPhone 15拍照📷很清楚", "spans": [{"start": 5, "end": 14, "label": "PRODUCT"}], "meta": {"shop": "京东", "stars": 5}}"#,
            "\n",
            r#"{"id": 3, "text": "Tim Cook visited 上海 👋🏽 yesterday", "spans": [{"start": 0, "end": 8, "label": "PER"}, {"start": 17, "end": 19, "label": "LOC"}]}"#,
            "\n",
            r#"{"id": "a4", "text": "没有实体的句子", "spans": []}"#,
            "\n",
            r#"{"id": "a5", "text": "还没标注的句子 unlabeled"}"#,
            "\n",
        ),
    );
    assert_eq!(out.len(), 5);
    // Offsets are code points: "iPhone 15" starts after two emoji, a space and two Han characters.
    let text = out[1]["text"].as_str().unwrap();
    let span = &out[1]["spans"][0];
    let s: String = text.chars().skip(span["start"].as_u64().unwrap() as usize).take(9).collect();
    assert_eq!(s, "iPhone 15");
    assert_eq!(out[2]["id"], "3");
    assert_eq!(out[3]["spans"], serde_json::json!([]));
    assert!(out[4].get("spans").is_none());
    assert_eq!(out[1]["meta"]["shop"], "京东");
}

#[test]
fn single_and_multi_and_dialogs() {
    roundtrip(
        ProjectKind::Single,
        &["好评", "差评"],
        concat!(
            r#"{"text": "物流很快，包装完好👍", "label": "好评"}"#,
            "\n",
            r#"{"text": "质量太差了", "label": "差评", "split": "test"}"#,
            "\n",
            r#"{"turns": [{"speaker": "客户", "text": "我的订单还没到"}, {"speaker": "客服", "text": "马上为您查询"}], "label": "差评"}"#,
            "\n",
            r#"{"text": "no label yet"}"#,
            "\n",
        ),
    );
    let out = roundtrip(
        ProjectKind::Multi,
        &["price", "quality", "delivery"],
        concat!(
            r#"{"text": "Cheap and fast", "labels": ["price", "delivery"]}"#,
            "\n",
            r#"{"text": "质量好", "labels": ["quality"]}"#,
            "\n",
            r#"{"text": "nothing to say", "labels": []}"#,
            "\n",
        ),
    );
    assert_eq!(out[0]["labels"], serde_json::json!(["delivery", "price"]));
    assert_eq!(out[2]["labels"], serde_json::json!([]));
}
