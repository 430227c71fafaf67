//! Generates N short mixed Chinese/English records (~60 characters) as JSONL and CSV, for the
//! store benchmark: `cargo run --release -p finelab-store --example gen_records -- N OUT_PREFIX`.

use std::io::Write;

const ZH: &[&str] = &[
    "物流",
    "很快",
    "包装",
    "完好",
    "质量",
    "不错",
    "客服",
    "态度",
    "非常",
    "满意",
    "退款",
    "申请",
    "订单",
    "还没",
    "收到",
    "价格",
    "便宜",
    "性价比",
    "高",
    "屏幕",
    "清晰",
    "电池",
    "续航",
    "一般",
    "发货",
    "太慢",
    "颜色",
    "好看",
    "尺码",
    "偏小",
    "味道",
    "新鲜",
    "下次",
    "还会",
    "购买",
    "商家",
    "推荐",
    "朋友",
    "失望",
    "破损",
];
const EN: &[&str] = &[
    "shipping",
    "fast",
    "quality",
    "great",
    "refund",
    "order",
    "battery",
    "screen",
    "price",
    "cheap",
    "support",
    "helpful",
    "late",
    "broken",
    "size",
    "small",
    "color",
    "nice",
    "will",
    "buy",
    "again",
    "recommend",
    "the",
    "was",
];

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let prefix = args.get(2).cloned().unwrap_or_else(|| "records".into());
    let mut rng = Lcg(42);
    let mut jsonl = std::io::BufWriter::new(std::fs::File::create(format!("{prefix}.jsonl")).unwrap());
    let mut csv = csv::Writer::from_path(format!("{prefix}.csv")).unwrap();
    csv.write_record(["id", "text"]).unwrap();
    let mut total_chars = 0usize;
    for i in 0..n {
        let mut text = String::new();
        while text.chars().count() < 56 {
            if rng.next().is_multiple_of(3) {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(rng.pick(EN));
                text.push(' ');
            } else {
                text.push_str(rng.pick(ZH));
                if rng.next().is_multiple_of(4) {
                    text.push('，');
                }
            }
        }
        text.push_str(&format!("#{i}"));
        total_chars += text.chars().count();
        serde_json::to_writer(&mut jsonl, &serde_json::json!({"id": format!("r{i}"), "text": text})).unwrap();
        jsonl.write_all(b"\n").unwrap();
        csv.write_record([format!("r{i}"), text]).unwrap();
    }
    eprintln!("{n} records, {:.1} characters on average", total_chars as f64 / n as f64);
}
