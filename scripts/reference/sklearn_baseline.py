#!/usr/bin/env python3
"""Reference numbers beside Finelab's `instant` model (scripts/bench-train.sh).

classify TRAIN.jsonl TEST.jsonl [--dev DEV.jsonl] [--json]
    The text-classification baseline of issue 3: scikit-learn's
    TfidfVectorizer(analyzer="char", ngram_range=(1, 3)) + LogisticRegression, with the default
    C=1.0 and with C=10 (with --dev also C=0.3, 3 and 30, and the C that scores best on DEV),
    fitted on TRAIN and scored on TEST. The files are `finelab export` JSON Lines ({"id", "text",
    "label", ...}), so the split is exactly the one Finelab trained and evaluated on. Prints
    sklearn's classification_report (or, with --json, one JSON object: {"C=1": {"macro_f1",
    "accuracy", "dev_macro_f1", "fit_seconds", "report"}, "C=10": {...}, ..., "dev_selected": "C=.."}).

seqeval GOLD.jsonl PRED.jsonl
    Entity-level scores of span predictions by seqeval itself: both files' spans (code-point
    offsets into "text") are written as IOB2 tags per code point and scored by
    seqeval.metrics.classification_report in its default mode. Records are matched by "id".
    Prints {"micro_f1", "macro_f1", "report"} as JSON, to set beside `finelab metrics --kind spans`.
"""
import json
import sys
import time
import warnings


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def need(modules):
    try:
        for m in modules:
            __import__(m)
    except ImportError as error:
        sys.stderr.write(
            f"sklearn_baseline.py needs {', '.join(modules)} ({error}); run ./scripts/setup.sh, "
            "or point FINELAB_PYTHON at an interpreter that has them\n"
        )
        sys.exit(3)


def classify(train_path, test_path, dev_path, as_json):
    need(["sklearn", "numpy"])
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import classification_report
    from sklearn.pipeline import make_pipeline

    train, test = read_jsonl(train_path), read_jsonl(test_path)
    x_train, y_train = [r["text"] for r in train], [r["label"] for r in train]
    x_test, y_test = [r["text"] for r in test], [r["label"] for r in test]
    dev = read_jsonl(dev_path) if dev_path else []
    results = {}
    for c in (0.3, 1.0, 3.0, 10.0, 30.0) if dev else (1.0, 10.0):
        model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3)),
            LogisticRegression(C=c, max_iter=2000),
        )
        started = time.perf_counter()
        model.fit(x_train, y_train)
        seconds = time.perf_counter() - started
        pred = model.predict(x_test)
        report = classification_report(y_test, pred, output_dict=True, zero_division=0)
        dev_f1 = None
        if dev:
            dev_pred = model.predict([r["text"] for r in dev])
            dev_report = classification_report([r["label"] for r in dev], dev_pred, output_dict=True, zero_division=0)
            dev_f1 = dev_report["macro avg"]["f1-score"]
        results[f"C={c:g}"] = {
            "macro_f1": report["macro avg"]["f1-score"],
            "dev_macro_f1": dev_f1,
            "accuracy": report["accuracy"],
            "fit_seconds": seconds,
            "n_train": len(train),
            "n_test": len(test),
            "report": report,
        }
        if not as_json:
            print(f"TF-IDF char 1-3 + LogisticRegression(C={c:g}): fitted on {len(train)} in {seconds:.1f} s")
            print(classification_report(y_test, pred, digits=4, zero_division=0))
    if dev:
        # Ties go to the smaller C (the stronger regularization), as listed first.
        results["dev_selected"] = max(results, key=lambda k: results[k]["dev_macro_f1"])
    if as_json:
        print(json.dumps(results))


def iob2(n, spans):
    tags = ["O"] * n
    for s in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        if any(t != "O" for t in tags[s["start"]:s["end"]]):
            continue  # overlapping spans cannot be written as IOB2; none occur in predictions
        tags[s["start"]] = "B-" + s["label"]
        for i in range(s["start"] + 1, s["end"]):
            tags[i] = "I-" + s["label"]
    return tags


def seqeval_spans(gold_path, pred_path):
    need(["seqeval"])
    from seqeval.metrics import classification_report

    warnings.filterwarnings("ignore")
    gold = read_jsonl(gold_path)
    pred = {r["id"]: r for r in read_jsonl(pred_path)}
    y_true, y_pred = [], []
    for g in gold:
        p = pred[g["id"]]
        n = len(g["text"])  # Python indexes str by code point, as Finelab's offsets do
        y_true.append(iob2(n, g.get("spans", [])))
        y_pred.append(iob2(n, p.get("spans", [])))
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    report = {k: {m: float(v) for m, v in row.items()} for k, row in report.items()}
    print(json.dumps({"micro_f1": report["micro avg"]["f1-score"], "macro_f1": report["macro avg"]["f1-score"], "report": report}))


def main(argv):
    if len(argv) >= 3 and argv[0] == "classify":
        rest = argv[3:]
        dev = rest[rest.index("--dev") + 1] if "--dev" in rest else None
        classify(argv[1], argv[2], dev, "--json" in rest)
    elif len(argv) == 3 and argv[0] == "seqeval":
        seqeval_spans(argv[1], argv[2])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
