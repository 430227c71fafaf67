//! Latency of the label screen's queries on a large project: "next unlabeled record" (as the
//! label screen asks for it after each label) and search.
//! `cargo run --release -p finelab-store --example bench_queries -- PROJECT_DIR`

use finelab_store::search::SearchQuery;
use finelab_store::{Action, AnnotationValue, Store};
use std::time::Instant;

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95), at(0.99))
}

fn main() {
    let dir = std::env::args().nth(1).expect("PROJECT_DIR");
    let mut store = Store::open(std::path::Path::new(&dir)).unwrap();
    let n = store.n_records().unwrap();
    let label = store.labels().unwrap().first().map(|l| l.name.clone()).expect("the project needs a label");
    // Label records the way a person does: take the next one, label it, ask for the next.
    let mut next_ms = Vec::new();
    let mut annotate_ms = Vec::new();
    let mut after = None;
    for _ in 0..2000 {
        let t = Instant::now();
        let rec = store.next_record("bench", after).unwrap().expect("an unlabeled record");
        next_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        store
            .annotate(rec.record.seq, "bench", &Action::Label { value: AnnotationValue::Label(label.clone()) })
            .unwrap();
        annotate_ms.push(t.elapsed().as_secs_f64() * 1e3);
        after = Some(rec.record.seq);
    }
    // Jump to random places in the queue, as when a user opens a record from Browse.
    let mut jump_ms = Vec::new();
    let mut x: u64 = 7;
    for _ in 0..2000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let at = (x >> 33) as i64 % n as i64;
        let t = Instant::now();
        store.next_record("bench", Some(at)).unwrap();
        jump_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p95, p99) = percentiles(next_ms);
    println!("next_unlabeled_after_label_ms p50 {p50:.3} p95 {p95:.3} p99 {p99:.3}");
    let (p50, p95, p99) = percentiles(jump_ms);
    println!("next_unlabeled_random_ms p50 {p50:.3} p95 {p95:.3} p99 {p99:.3}");
    let (p50, p95, p99) = percentiles(annotate_ms);
    println!("annotate_commit_ms p50 {p50:.3} p95 {p95:.3} p99 {p99:.3}");
    let queries = [
        "物流",
        "退款",
        "客服态度",
        "好",
        "性价比高",
        "电池续航",
        "shipping",
        "refund",
        "batt",
        "quality great",
        "#12345",
        "不存在的词",
    ];
    let mut all = Vec::new();
    for q in queries {
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..20 {
            let t = Instant::now();
            hits = store
                .search(&SearchQuery { text: Some(q.into()), limit: Some(50), ..Default::default() })
                .unwrap()
                .hits
                .len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (p50, p95, _) = percentiles(times.clone());
        println!("search {q:?}: first page {hits} hits, p50 {p50:.2} ms p95 {p95:.2} ms");
        all.extend(times);
    }
    let (p50, p95, p99) = percentiles(all);
    println!("search_all_queries_ms p50 {p50:.2} p95 {p95:.2} p99 {p99:.2}");
    println!("records {n}, search index covers {}", n - store.search_pending().unwrap());
}
