//! Tries FTS5 settings for the search index on a JSONL file (a design probe, kept for reference):
//! `cargo run --release -p finelab-store --example bench_fts -- FILE.jsonl`

use std::io::BufRead;
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("FILE.jsonl");
    let texts: Vec<String> = std::io::BufReader::new(std::fs::File::open(&path).unwrap())
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let t = Instant::now();
    let n_terms: usize = texts.iter().map(|t| finelab_store::search::index_terms(t).split(' ').count()).sum();
    println!(
        "terms: {n_terms} ({:.1} a record), computing them: {:.2} s",
        n_terms as f64 / texts.len() as f64,
        t.elapsed().as_secs_f64()
    );
    for (name, create, setup) in [
        ("detail=none", "CREATE VIRTUAL TABLE s USING fts5(terms, content='', detail=none)", ""),
        (
            "detail=none columnsize=0",
            "CREATE VIRTUAL TABLE s USING fts5(terms, content='', detail=none, columnsize=0)",
            "",
        ),
        (
            "+ hashsize 64MB",
            "CREATE VIRTUAL TABLE s USING fts5(terms, content='', detail=none, columnsize=0)",
            "INSERT INTO s(s, rank) VALUES('hashsize', 67108864);",
        ),
        (
            "+ automerge 16",
            "CREATE VIRTUAL TABLE s USING fts5(terms, content='', detail=none, columnsize=0)",
            "INSERT INTO s(s, rank) VALUES('hashsize', 67108864); INSERT INTO s(s, rank) VALUES('automerge', 16);",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("s.sqlite")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(create).unwrap();
        conn.execute_batch(setup).unwrap();
        let t = Instant::now();
        conn.execute_batch("BEGIN").unwrap();
        {
            let mut ins = conn.prepare("INSERT INTO s(rowid, terms) VALUES (?1, ?2)").unwrap();
            for (i, text) in texts.iter().enumerate() {
                ins.execute(rusqlite::params![i as i64 + 1, finelab_store::search::index_terms(text)]).unwrap();
            }
        }
        conn.execute_batch("COMMIT").unwrap();
        let build = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut n = 0;
        for q in ["\"物流\"", "\"退款\"", "\"hip\" \"shi\"", "\"客服\" \"服态\" \"态度\""] {
            let mut stmt = conn.prepare("SELECT rowid FROM s WHERE s MATCH ?1 LIMIT 51").unwrap();
            n += stmt.query_map([q], |r| r.get::<_, i64>(0)).unwrap().count();
        }
        let size = std::fs::metadata(dir.path().join("s.sqlite")).unwrap().len()
            + std::fs::metadata(dir.path().join("s.sqlite-wal")).map(|m| m.len()).unwrap_or(0);
        println!(
            "{name}: build {build:.2} s, 4 queries {:.2} ms ({n} rows), {:.0} MB",
            t.elapsed().as_secs_f64() * 1e3,
            size as f64 / 1e6
        );
    }
}
