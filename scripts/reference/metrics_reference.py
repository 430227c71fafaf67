#!/usr/bin/env python3
"""Reference numbers for finelab-train's metrics.

Reads a JSON list of cases (written by crates/finelab-train/tests/it/metrics_reference/mod.rs) and prints,
for each case, the report the reference implementation gives:

- "single": sklearn classification_report(gold, pred, labels=labels or None, output_dict=True,
  zero_division=0) plus {"confusion": {"labels", "matrix"}} from sklearn's confusion_matrix;
- "multi": the same on indicator matrices from MultiLabelBinarizer(classes=labels);
- "spans": seqeval classification_report(gold_tags, pred_tags, output_dict=True) in its default
  mode, the spans written as IOB2 tags over code points.

NaN (seqeval's macro average over zero entity types) is printed as null.
Usage: metrics_reference.py CASES.json > REPORTS.json
"""
import json
import math
import sys
import warnings

try:
    import numpy as np
    from sklearn.metrics import classification_report, confusion_matrix
    from sklearn.preprocessing import MultiLabelBinarizer
    from seqeval.metrics import classification_report as seqeval_report
except ImportError as error:  # the Rust test turns this exit code into a failure with this text
    sys.stderr.write(
        f"metrics_reference.py needs numpy, scikit-learn and seqeval ({error}).\n"
        "Install them: python3 -m venv .venv && .venv/bin/pip install scikit-learn seqeval numpy\n"
        "or point FINELAB_PYTHON at an interpreter that has them.\n"
    )
    sys.exit(3)

warnings.filterwarnings("ignore")  # zero-division warnings are expected in corner cases


def plain(value):
    """numpy scalars to Python numbers, NaN to None, recursively."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def iob2(length, spans):
    tags = ["O"] * length
    for span in spans:
        tags[span["start"]] = "B-" + span["label"]
        for i in range(span["start"] + 1, span["end"]):
            tags[i] = "I-" + span["label"]
    return tags


def single(case):
    gold, pred, labels = case["gold"], case["pred"], case.get("labels")
    report = classification_report(gold, pred, labels=labels, output_dict=True, zero_division=0)
    matrix_labels = labels if labels is not None else sorted(set(gold) | set(pred))
    matrix = confusion_matrix(gold, pred, labels=matrix_labels)
    report["confusion"] = {"labels": list(matrix_labels), "matrix": matrix.tolist()}
    return report


def multi(case):
    binarizer = MultiLabelBinarizer(classes=case["labels"])
    gold = binarizer.fit_transform(case["gold"])
    pred = binarizer.transform(case["pred"])
    return classification_report(
        gold, pred, target_names=case["labels"], output_dict=True, zero_division=0
    )


def spans(case):
    gold = [iob2(n, s) for n, s in zip(case["lengths"], case["gold"])]
    pred = [iob2(n, s) for n, s in zip(case["lengths"], case["pred"])]
    return seqeval_report(gold, pred, output_dict=True)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    kinds = {"single": single, "multi": multi, "spans": spans}
    reports = [plain(kinds[case["kind"]](case)) for case in cases]
    json.dump(reports, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
