//! Generate projects: text-to-text data in the shapes people already have (JSONL shapes, Alpaca,
//! tables with an input and an output column, dialogs), and their exports read back.

use super::common::*;
use finelab_store::export::{ExportFormat, ExportOptions};
use finelab_store::import::{ColumnMap, DialogTargets, ImportOptions};
use finelab_store::{chat_role, format_dialog, ProjectKind, Split, Store, Turn};
use std::path::Path;

fn project(dir: &Path) -> Store {
    new_project(dir, ProjectKind::Generate, &[])
}

/// Every record as (id, text as shown, output), in import order.
fn records(store: &Store) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for record in store.list_records(0, 10_000).unwrap() {
        let view = store.record_by_seq(record.seq).unwrap();
        let output = view.value.as_ref().and_then(|v| v.as_output()).map(str::to_string);
        out.push((record.id, record.text, output));
    }
    out
}

/// (text as shown, output) of every record.
fn pairs(store: &Store) -> Vec<(String, Option<String>)> {
    records(store).into_iter().map(|(_, text, output)| (text, output)).collect()
}

fn export(store: &Store, format: ExportFormat) -> String {
    let mut out = Vec::new();
    let options = ExportOptions { format, split: None, labeled_only: false, annotations: false };
    store.export(&options, &mut out, &mut |_, _| true).unwrap();
    String::from_utf8(out).unwrap()
}

/// Imports `contents` as `name` into a new generate project and checks the rejected lines
/// (line, a part of the reason) and the records (text as shown, output).
fn check(
    dir: &Path,
    name: &str,
    contents: &str,
    options: &ImportOptions,
    rejected: &[(u64, &str)],
    expected: &[(&str, Option<&str>)],
) -> Store {
    let mut store = project(&dir.join(format!("p-{name}")));
    let path = write(dir, name, contents);
    let report = import(&mut store, &path, options);
    let got: Vec<(u64, String)> = report.rejected.iter().map(|e| (e.line, e.reason.clone())).collect();
    assert_eq!(got.len(), rejected.len(), "{name}: rejected {got:?}");
    for ((line, reason), (want_line, want)) in got.iter().zip(rejected) {
        assert_eq!(line, want_line, "{name}: {got:?}");
        assert!(reason.contains(want), "{name}: line {line}: {reason:?} should say {want:?}");
    }
    let want: Vec<(String, Option<String>)> =
        expected.iter().map(|(t, o)| (t.to_string(), o.map(str::to_string))).collect();
    assert_eq!(pairs(&store), want, "{name}");
    assert_eq!(report.labeled as usize, expected.iter().filter(|(_, o)| o.is_some()).count(), "{name}");
    store
}

/// (text as shown, output) of the labeled records as OpenAI's format says them: speakers
/// by their roles, and an input of one user turn as plain text.
fn as_openai_says(store: &Store) -> Vec<(String, Option<String>)> {
    let agents = store.agent_speakers().unwrap();
    let mut out = Vec::new();
    for record in store.list_records(0, 10_000).unwrap() {
        let view = store.record_by_seq(record.seq).unwrap();
        let Some(output) = view.value.as_ref().and_then(|v| v.as_output()) else { continue };
        let roles: Vec<Turn> = record
            .turns
            .iter()
            .flatten()
            .map(|t| Turn { speaker: chat_role(&t.speaker, &agents).as_str().into(), text: t.text.clone() })
            .collect();
        let text = match &roles[..] {
            [] => record.text.clone(),
            [only] if only.speaker == "user" => only.text.clone(),
            turns => format_dialog(turns),
        };
        out.push((text, Some(output.to_string())));
    }
    out
}

/// Export JSON Lines, import them into a new project: the same records, outputs, ids, meta,
/// splits and annotators. Then OpenAI's format, which keeps the inputs (speakers as roles)
/// and outputs of the labeled records.
fn check_round_trips(dir: &Path, name: &str, store: &Store) {
    let jsonl = export(store, ExportFormat::Jsonl);
    let mut again = project(&dir.join(format!("jsonl-{name}")));
    let report = import(&mut again, &write(dir, &format!("{name}.export.jsonl"), &jsonl), &Default::default());
    assert_eq!(report.n_rejected, 0, "{name}: {:?}", report.rejected);
    assert_eq!(export(&again, ExportFormat::Jsonl), jsonl, "{name}: JSON Lines round trip");
    assert_eq!(again.stats().unwrap().labeled, store.stats().unwrap().labeled);

    let openai = export(store, ExportFormat::OpenAi);
    let mut from_openai = project(&dir.join(format!("openai-{name}")));
    let report = import(&mut from_openai, &write(dir, &format!("{name}.openai.jsonl"), &openai), &Default::default());
    assert_eq!(report.n_rejected, 0, "{name}: {:?}", report.rejected);
    assert_eq!(pairs(&from_openai), as_openai_says(store), "{name}: OpenAI round trip");
    assert_eq!(export(&from_openai, ExportFormat::OpenAi), openai, "{name}: OpenAI export of the re-import");
}

#[test]
fn jsonl_shapes_import_and_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let none = ImportOptions::default();

    let store = check(
        dir,
        "prompt_completion.jsonl",
        concat!(
            r#"{"prompt": "把这句话翻译成英文：\n我爱北京", "completion": "I love Beijing."}"#,
            "\n",
            r#"{"prompt": "Say \"hi\", then stop", "completion": "  \"hi\"\n— done"}"#,
            "\n",
            r#"{"prompt": "还没有答案的问题"}"#,
            "\n",
        ),
        &none,
        &[],
        &[
            ("把这句话翻译成英文：\n我爱北京", Some("I love Beijing.")),
            ("Say \"hi\", then stop", Some("  \"hi\"\n— done")),
            ("还没有答案的问题", None),
        ],
    );
    check_round_trips(dir, "prompt_completion", &store);

    let store = check(
        dir,
        "input_output.jsonl",
        concat!(
            r#"{"id": "q1", "input": "1+1=?", "output": "2", "meta": {"来源": "数学"}, "split": "test", "difficulty": "easy"}"#,
            "\n",
            r#"{"input": "你好", "output": "你好！有什么可以帮您？", "annotator": "小李"}"#,
            "\n",
            r#"{"id": 7, "turns": [{"speaker": "客户", "text": "在吗"}, {"speaker": "客服", "text": "在的"}], "output": "请问有什么可以帮您？"}"#,
            "\n",
        ),
        &none,
        &[],
        &[
            ("1+1=?", Some("2")),
            ("你好", Some("你好！有什么可以帮您？")),
            // Turns given as the input stay the input, even when the agent speaks last.
            ("客户: 在吗\n客服: 在的", Some("请问有什么可以帮您？")),
        ],
    );
    let q1 = store.record("q1").unwrap();
    assert_eq!(q1.record.split, Some(Split::Test));
    let meta = q1.record.meta.unwrap();
    assert_eq!((meta["来源"].as_str(), meta["difficulty"].as_str()), (Some("数学"), Some("easy")));
    assert_eq!(store.record("7").unwrap().record.turns.unwrap().len(), 2);
    let annotators: Vec<_> = store.stats().unwrap().annotators;
    assert_eq!(annotators, vec!["import", "小李"]);
    check_round_trips(dir, "input_output", &store);

    let store = check(
        dir,
        "alpaca.jsonl",
        concat!(
            r#"{"instruction": "把下面的句子改写得更礼貌", "input": "快点发货", "output": "麻烦尽快为我发货，谢谢！"}"#,
            "\n",
            r#"{"instruction": "Name three colours.", "input": "", "output": "Red, green and blue."}"#,
            "\n",
        ),
        &none,
        &[],
        &[
            ("把下面的句子改写得更礼貌\n\n快点发货", Some("麻烦尽快为我发货，谢谢！")),
            ("Name three colours.", Some("Red, green and blue.")),
        ],
    );
    // The instruction is kept apart when an input was joined to it.
    let rows = export_jsonl(&store);
    assert_eq!(rows[0]["meta"]["instruction"], "把下面的句子改写得更礼貌");
    assert!(rows[1].get("meta").is_none(), "{}", rows[1]);
    check_round_trips(dir, "alpaca", &store);

    let messages = [
        r#"{"messages":[{"role":"system","content":"你是客服助手。"},{"role":"user","content":"我的快递到哪了？"},{"role":"assistant","content":"您好，请提供订单号。"},{"role":"user","content":"订单号 123"},{"role":"assistant","content":"已为您查询：明天送达。\n还有什么可以帮您？"}]}"#,
        r#"{"messages":[{"role":"user","content":"Translate \"cat\" to French"},{"role":"assistant","content":"chat"}]}"#,
        r#"{"messages":[{"role":"user","content":"还在等回复"}]}"#,
        r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Why?"}]}"#,
    ];
    let store = check(
        dir,
        "messages.jsonl",
        &messages.iter().map(|m| format!("{m}\n")).collect::<String>(),
        &none,
        &[],
        &[
            (
                "system: 你是客服助手。\nuser: 我的快递到哪了？\nassistant: 您好，请提供订单号。\nuser: 订单号 123",
                Some("已为您查询：明天送达。\n还有什么可以帮您？"),
            ),
            // A prompt of one user message is a plain text input.
            ("Translate \"cat\" to French", Some("chat")),
            // A conversation that does not end with the agent waits for its output.
            ("还在等回复", None),
            ("system: Be brief.\nuser: Why?", None),
        ],
    );
    // OpenAI's format comes back as it was given (the labeled conversations).
    assert_eq!(export(&store, ExportFormat::OpenAi), format!("{}\n{}\n", messages[0], messages[1]));
    check_round_trips(dir, "messages", &store);

    let store = check(
        dir,
        "sharegpt.jsonl",
        concat!(
            r#"{"id": "s1", "conversations": [{"from": "system", "value": "You are helpful."}, {"from": "human", "value": "写一首关于秋天的诗"}, {"from": "gpt", "value": "秋风起，\n落叶黄。"}]}"#,
            "\n",
            r#"{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "Hello! \"Nice\" to meet you."}]}"#,
            "\n",
        ),
        &none,
        &[],
        &[
            ("system: You are helpful.\nhuman: 写一首关于秋天的诗", Some("秋风起，\n落叶黄。")),
            ("hi", Some("Hello! \"Nice\" to meet you.")),
        ],
    );
    // ShareGPT's roles keep their names; OpenAI's export says them in its own.
    let openai: Vec<serde_json::Value> =
        export(&store, ExportFormat::OpenAi).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let roles: Vec<&str> =
        openai[0]["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant"]);
    assert_eq!(store.record("s1").unwrap().record.turns.unwrap()[1].speaker, "human");
    let jsonl = export(&store, ExportFormat::Jsonl);
    let mut again = project(&dir.join("sharegpt-again"));
    import(&mut again, &write(dir, "sharegpt.export.jsonl", &jsonl), &none);
    assert_eq!(export(&again, ExportFormat::Jsonl), jsonl);
}

#[test]
fn a_json_array_as_alpaca_ships_and_plain_texts() {
    let tmp = tempfile::tempdir().unwrap();
    // alpaca_data.json is one JSON array; each element keeps the line it starts on.
    let store = check(
        tmp.path(),
        "alpaca_data.json",
        concat!(
            "[\n",
            "  {\n",
            r#"    "instruction": "Give three tips for staying healthy.","#,
            "\n",
            r#"    "input": "","#,
            "\n",
            r#"    "output": "1. Eat well.\n2. Exercise.\n3. Sleep enough.""#,
            "\n",
            "  },\n",
            r#"  {"instruction": "翻译成中文", "input": "Good morning", "output": "早上好"},"#,
            "\n",
            r#"  {"instruction": "坏的", "output": 3},"#,
            "\n",
            r#"  {"prompt": "另一种形状", "completion": "不行"}"#,
            "\n",
            "]\n",
        ),
        &ImportOptions::default(),
        &[(8, "\"output\" is not a string"), (9, "(line 2) is in the Alpaca instruction/input/output shape")],
        &[
            ("Give three tips for staying healthy.", Some("1. Eat well.\n2. Exercise.\n3. Sleep enough.")),
            ("翻译成中文\n\nGood morning", Some("早上好")),
        ],
    );
    check_round_trips(tmp.path(), "alpaca_data", &store);
    // Plain {"text"} lines are inputs waiting for their outputs.
    check(
        tmp.path(),
        "texts.jsonl",
        "{\"text\": \"写一首诗\"}\n{\"text\": \"总结这段话\", \"output\": \"好的\"}\n",
        &ImportOptions::default(),
        &[],
        &[("写一首诗", None), ("总结这段话", Some("好的"))],
    );
}

#[test]
fn bad_lines_are_reported_by_line_and_the_rest_imported() {
    let tmp = tempfile::tempdir().unwrap();
    check(
        tmp.path(),
        "mixed.jsonl",
        concat!(
            r#"{"prompt": "第一行", "completion": "好"}"#,
            "\n",
            r#"{"prompt": "broken"#,
            "\n",
            "\n",
            r#"{"messages": [{"role": "user", "content": "mixed"}, {"role": "assistant", "content": "shape"}]}"#,
            "\n",
            r#"{"prompt": 42, "completion": "x"}"#,
            "\n",
            r#"{"prompt": "数字答案", "completion": 7}"#,
            "\n",
            r#"{"prompt": "空答案", "completion": " \n"}"#,
            "\n",
            r#"{"prompt": "   ", "completion": "空问题"}"#,
            "\n",
            r#"{"question": "no input key"}"#,
            "\n",
            r#"["not an object"]"#,
            "\n",
            r#"{"prompt": "最后一行也导入", "completion": "行"}"#,
            "\n",
        ),
        &ImportOptions::default(),
        &[
            (2, "invalid JSON"),
            (4, "this line is in the OpenAI messages shape, but the file's first record (line 1) is in the prompt/completion shape"),
            (5, "\"prompt\" is not a string but a number"),
            (6, "\"completion\" is not a string but a number"),
            (7, "the output is empty"),
            (8, "the text is empty"),
            (9, "no input"),
            (10, "expected a JSON object"),
        ],
        &[("第一行", Some("好")), ("最后一行也导入", Some("行"))],
    );
    // The first line that has a shape decides the file's; chat turns are checked one by one.
    check(
        tmp.path(),
        "late_start.jsonl",
        concat!(
            "{\n",
            r#"{"messages": [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}]}"#,
            "\n",
            r#"{"prompt": "p", "completion": "c"}"#,
            "\n",
            r#"{"messages": [{"role": "user", "content": "问2"}, {"role": "assistant"}]}"#,
            "\n",
            r#"{"messages": [{"role": "user", "content": "问3"}, {"content": "答3"}]}"#,
            "\n",
            r#"{"messages": [{"role": "assistant", "content": "只有回答"}]}"#,
            "\n",
        ),
        &ImportOptions::default(),
        &[
            (1, "invalid JSON"),
            (3, "(line 2) is in the OpenAI messages shape"),
            (4, "\"messages\" item 2 has no \"content\""),
            (5, "\"messages\" item 2 has no string \"role\""),
            (6, "opens with the agent's turn"),
        ],
        &[("问", Some("答"))],
    );
    // Strict mode imports nothing and names the first bad line.
    let mut store = project(&tmp.path().join("strict"));
    let strict = ImportOptions { strict: true, ..Default::default() };
    let err = store.import(&tmp.path().join("mixed.jsonl"), &strict, &mut |_| true).unwrap_err().to_string();
    assert!(err.contains("8 row(s) rejected") && err.contains("line 2"), "{err}");
    assert_eq!(store.n_records().unwrap(), 0);
}

#[test]
fn tables_with_an_input_and_an_output_column() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Chinese column names, a quoted answer over two lines with quotes in it, an empty answer
    // (unlabeled), a row with a field too many and one without a question.
    let csv = "编号,问题,答案,来源\n\
               1,怎么退货？,\"请在订单页点击\"\"申请退货\"\"。\n客服会在24小时内处理。\",app\n\
               2,发票怎么开,,web\n\
               3,\"多余,的列\",答,web,extra\n\
               4,,没有问题,web\n\
               5,\"Is it \"\"free\"\"?\",\"Yes, it is.\",web\n";
    let store = check(
        dir,
        "faq.csv",
        csv,
        &ImportOptions::default(),
        &[(5, "expected 4 fields, found 5"), (6, "the text is empty")],
        &[
            ("怎么退货？", Some("请在订单页点击\"申请退货\"。\n客服会在24小时内处理。")),
            ("发票怎么开", None),
            ("Is it \"free\"?", Some("Yes, it is.")),
        ],
    );
    assert_eq!(store.record("1").unwrap().record.meta.unwrap()["来源"], "app");
    check_round_trips(dir, "faq", &store);
    // CSV export: the input and output columns read back as they were.
    let exported = export(&store, ExportFormat::Csv);
    assert!(exported.starts_with("id,input,output,split,annotator,meta\n"), "{exported}");
    let mut from_csv = project(&dir.join("from-csv"));
    import(&mut from_csv, &write(dir, "faq.export.csv", &exported), &ImportOptions::default());
    assert_eq!(pairs(&from_csv), pairs(&store));

    // The input and output columns are found by their common names.
    for (n, (csv, input, output)) in [
        ("source,target\nHello,你好\n", "Hello", "你好"),
        ("text,source,output\nA,web,B\n", "A", "B"),
        ("原文,译文\n今天天气很好,The weather is nice today.\n", "今天天气很好", "The weather is nice today."),
        ("id,问题,回答\n1,几点开门,九点\n", "几点开门", "九点"),
        ("prompt,response\nHi,Hello\n", "Hi", "Hello"),
        ("question,answer,category\nWhy?,Because.,faq\n", "Why?", "Because."),
    ]
    .into_iter()
    .enumerate()
    {
        check(dir, &format!("columns{n}.csv"), csv, &ImportOptions::default(), &[], &[(input, Some(output))]);
    }

    // Alpaca as a table: the instruction and the input join as in Alpaca's JSON.
    let store = check(
        dir,
        "alpaca.csv",
        "instruction,input,output\n把句子改得礼貌,快点发货,麻烦尽快发货\nName a colour.,,Red\n,只有输入,好\n",
        &ImportOptions::default(),
        &[],
        &[
            ("把句子改得礼貌\n\n快点发货", Some("麻烦尽快发货")),
            ("Name a colour.", Some("Red")),
            ("只有输入", Some("好")),
        ],
    );
    assert_eq!(export_jsonl(&store)[0]["meta"]["instruction"], "把句子改得礼貌");
    check_round_trips(dir, "alpaca_csv", &store);

    // Without an output column the file is refused, naming the columns; an option names it.
    let notes = "question,notes\n怎么付款,支持微信和支付宝\n";
    let path = write(dir, "notes.csv", notes);
    let err = project(&dir.join("notes")).import(&path, &ImportOptions::default(), &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("no output column") && err.to_string().contains("notes"), "{err}");
    let named = ImportOptions {
        columns: ColumnMap { output: Some("notes".into()), ..Default::default() },
        ..Default::default()
    };
    check(dir, "notes.csv", notes, &named, &[], &[("怎么付款", Some("支持微信和支付宝"))]);
    // A table of one column is inputs waiting for their outputs.
    check(dir, "prompts.csv", "prompt\n写一句广告语\n", &ImportOptions::default(), &[], &[("写一句广告语", None)]);

    // A workbook with input and output columns.
    use super::common::xlsx::{row, sheet_head, workbook, Part, SHEET_TAIL};
    let content = format!(
        "{}{}{}{}{}{SHEET_TAIL}",
        sheet_head(),
        row(&["input", "output"]),
        row(&["你好", "您好！"]),
        row(&["多行\n输入", "回答 \"引号\""]),
        row(&["", "没有输入"])
    );
    let path = write(dir, "pairs.xlsx", workbook(Part::new("xl/worksheets/sheet1.xml", &content), None));
    let mut store = project(&dir.join("xlsx"));
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(rejected_lines(&report), vec![4]);
    assert_eq!(
        pairs(&store),
        vec![
            ("你好".to_string(), Some("您好！".to_string())),
            ("多行\n输入".to_string(), Some("回答 \"引号\"".to_string()))
        ]
    );
}

const DIALOGS: &str = "conversation_id,speaker,text,channel\n\
                       c1,客户,我要退款,app\n\
                       c1,客服,好的，请提供订单号,app\n\
                       c2,客服,您好，有什么可以帮您？,web\n\
                       c2,客户,快递到哪了,web\n\
                       c1,客户,订单号123,app\n\
                       c1,客服,已为您办理退款,app\n\
                       c2,客服,\"明天送达，\"\"请注意查收\"\"\",web\n\
                       c3,客户,在吗,web\n\
                       c3,客户,人呢,web\n\
                       c4,客服,欢迎光临,web\n";

#[test]
fn dialog_csv_the_last_agent_turn_is_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let store = check(
        tmp.path(),
        "dialogs.csv",
        DIALOGS,
        &ImportOptions::default(),
        &[(11, "opens with the agent's turn")],
        &[
            ("客户: 我要退款\n客服: 好的，请提供订单号\n客户: 订单号123", Some("已为您办理退款")),
            ("客服: 您好，有什么可以帮您？\n客户: 快递到哪了", Some("明天送达，\"请注意查收\"")),
            ("客户: 在吗\n客户: 人呢", None),
        ],
    );
    let ids: Vec<String> = records(&store).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, ["c1", "c2", "c3"]);
    assert_eq!(store.record("c1").unwrap().record.meta.unwrap()["channel"], "app");
    check_round_trips(tmp.path(), "dialogs", &store);
    // OpenAI's roles: the agent is the assistant, the customer the user.
    let first: serde_json::Value =
        serde_json::from_str(export(&store, ExportFormat::OpenAi).lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"messages": [
            {"role": "user", "content": "我要退款"},
            {"role": "assistant", "content": "好的，请提供订单号"},
            {"role": "user", "content": "订单号123"},
            {"role": "assistant", "content": "已为您办理退款"},
        ]})
    );
}

#[test]
fn dialog_csv_each_agent_turn_is_an_output() {
    let tmp = tempfile::tempdir().unwrap();
    let each = ImportOptions { dialog_targets: DialogTargets::EachAgentTurn, ..Default::default() };
    let store = check(
        tmp.path(),
        "dialogs.csv",
        DIALOGS,
        &each,
        &[(11, "opens with the agent's turn")],
        &[
            ("客户: 我要退款", Some("好的，请提供订单号")),
            ("客户: 我要退款\n客服: 好的，请提供订单号\n客户: 订单号123", Some("已为您办理退款")),
            // The agent's greeting answers nothing: it is input only.
            ("客服: 您好，有什么可以帮您？\n客户: 快递到哪了", Some("明天送达，\"请注意查收\"")),
            ("客户: 在吗\n客户: 人呢", None),
        ],
    );
    // Record d#k is dialog d up to its turn k, read from the line of that turn.
    let ids: Vec<String> = records(&store).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, ["c1#2", "c1#4", "c2#3", "c3#3"]);
    let lines: Vec<Option<i64>> = ids.iter().map(|id| store.record(id).unwrap().record.source_line).collect();
    assert_eq!(lines, [Some(3), Some(7), Some(8), Some(9)]);
    check_round_trips(tmp.path(), "each", &store);

    // The same choice for a chat line.
    check(
        tmp.path(),
        "each.jsonl",
        concat!(
            r#"{"id": "m", "messages": [{"role": "system", "content": "简短回答"}, {"role": "user", "content": "一"}, {"role": "assistant", "content": "1"}, {"role": "user", "content": "二"}, {"role": "assistant", "content": "2"}]}"#,
            "\n"
        ),
        &each,
        &[],
        &[("system: 简短回答\nuser: 一", Some("1")), ("system: 简短回答\nuser: 一\nassistant: 1\nuser: 二", Some("2"))],
    );
}

/// The records made from one dialog share its opening turns, so they share its split: no
/// test record's context is trained on, whenever its records are labeled.
#[test]
fn records_of_one_dialog_share_a_split() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("conversation_id,speaker,text\n");
    for d in 0..40 {
        for (speaker, text) in [("客户", "问"), ("客服", "答"), ("客户", "再问"), ("客服", "再答"), ("客户", "还有")]
        {
            csv.push_str(&format!("d{d},{speaker},{text} {d}\n"));
        }
    }
    let mut store = project(&tmp.path().join("p"));
    let each = ImportOptions { dialog_targets: DialogTargets::EachAgentTurn, ..Default::default() };
    let report = import(&mut store, &write(tmp.path(), "many.csv", &csv), &each);
    assert_eq!((report.imported, report.labeled, report.splits_assigned), (120, 80, 80));
    // The last record of each dialog waits for its output; written later, it joins its dialog.
    for d in 0..40 {
        let seq = store.record(&format!("d{d}#6")).unwrap().record.seq;
        store
            .annotate(
                seq,
                "ann",
                &finelab_store::Action::Label { value: finelab_store::AnnotationValue::Output("好".into()) },
            )
            .unwrap();
    }
    let mut per_split = std::collections::BTreeMap::new();
    for d in 0..40 {
        let splits: Vec<Option<Split>> =
            [2, 4, 6].iter().map(|k| store.record(&format!("d{d}#{k}")).unwrap().record.split).collect();
        assert!(splits[0].is_some() && splits.iter().all(|s| *s == splits[0]), "d{d}: {splits:?}");
        *per_split.entry(splits[0].unwrap()).or_insert(0) += 1;
    }
    // Whole dialogs still spread over the three splits.
    assert_eq!(per_split.len(), 3, "{per_split:?}");
    let rows = export_jsonl(&store);
    assert_eq!(rows[0]["group"], "d0");
    check_round_trips(tmp.path(), "many", &store);
}

#[test]
fn agent_speakers_are_configurable_and_remembered() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = "会话id,说话人,内容\n1,顾客,能便宜点吗\n1,小王,已经是最低价了\n2,顾客,包邮吗\n2,客服,包邮\n";
    // By default 小王 is no agent, so the first dialog waits for its reply.
    check(
        tmp.path(),
        "shop.csv",
        csv,
        &ImportOptions::default(),
        &[],
        &[("顾客: 能便宜点吗\n小王: 已经是最低价了", None), ("顾客: 包邮吗", Some("包邮"))],
    );
    // Named agents replace the defaults (OpenAI's assistant and ShareGPT's gpt always are).
    let named = ImportOptions { agent_speakers: vec!["小王".into()], ..Default::default() };
    let store = check(
        tmp.path(),
        "shop_named.csv",
        csv,
        &named,
        &[],
        &[("顾客: 能便宜点吗", Some("已经是最低价了")), ("顾客: 包邮吗\n客服: 包邮", None)],
    );
    assert_eq!(store.agent_speakers().unwrap(), ["小王"]);
    // ... and the project remembers them for its exports.
    let mut store = store;
    let more = write(tmp.path(), "more.csv", "会话id,说话人,内容\n3,顾客,发货了吗\n3,小王,\"已发货\n单号 SF1\"\n");
    import(&mut store, &more, &ImportOptions::default());
    assert_eq!(store.record("3").unwrap().value.unwrap().as_output(), Some("已发货\n单号 SF1"));
    let openai = export(&store, ExportFormat::OpenAi);
    assert!(
        openai.contains(r#"{"role":"user","content":"发货了吗"},{"role":"assistant","content":"已发货\n单号 SF1"}"#),
        "{openai}"
    );

    // Dialog rows need a speaker column to find the agent's turns.
    let path = write(tmp.path(), "no_speaker.csv", "conversation_id,text\n1,你好\n1,您好\n");
    let err = project(&tmp.path().join("q")).import(&path, &ImportOptions::default(), &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("speaker column"), "{err}");
}

#[test]
fn one_question_with_several_answers_keeps_every_answer() {
    // chatterbot-corpus and support logs answer one question several ways: each answer is an
    // example; only a row with the same input and the same output is a duplicate.
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = concat!(
        r#"{"prompt": "你好", "completion": "嗨"}"#,
        "\n",
        r#"{"prompt": "你好", "completion": "你好！"}"#,
        "\n",
        r#"{"prompt": "你好", "completion": "嗨"}"#,
        "\n"
    );
    let mut store = check(
        tmp.path(),
        "answers.jsonl",
        jsonl,
        &ImportOptions::default(),
        &[],
        &[("你好", Some("嗨")), ("你好", Some("你好！"))],
    );
    let path = write(tmp.path(), "again.jsonl", jsonl);
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!((report.imported, report.duplicates), (0, 3), "{report:?}");
}
