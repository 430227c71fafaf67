#!/usr/bin/env python3
"""Reference numbers for finelab-train's inter-annotator agreement (crates/finelab-train/src/agreement.rs).

Reads a JSON list of cases (written by crates/finelab-train/tests/it/metrics_reference/agreement.rs) from the file
named on the command line. A case is {"kind": "single" | "multi" | "spans", "labels": [...],
"only": [...] | null, "items": [{"record", "annotator", "value"}], "lengths": {record: code points}}
(lengths for spans only); "value" is a class, a list of labels, or a list of {start, end, label}.
For each case it prints the report finelab's `agreement(items, labels, only)` must give:

- the ratings: those of the annotators in "only" (all when null); when an annotator rated a record
  twice, the later rating; a multi-label rating is one nominal value, its sorted set of labels;
- "n_records": records rated by two or more of them; "annotators": those who rated such a record,
  sorted;
- "pairs": for every two annotators a < b with n >= 1 records both rated: "n";
  single / multi: "percent_agreement" (share of equal values) and "cohen_kappa" =
  sklearn.metrics.cohen_kappa_score(values of a, values of b) (null where sklearn gives NaN);
  spans: "f1" = the "micro avg" f1-score of seqeval's classification_report(tags of a, tags of b)
  (default mode, the spans written as IOB2 tags over code points) and "per_label" = its f1-score
  per entity type;
- "fleiss_kappa" = statsmodels.stats.inter_rater.fleiss_kappa(aggregate_raters(data)[0],
  method="fleiss") over the largest group of records with one rater count >= 2 (tie: more raters),
  data = records x raters of value codes; "fleiss_records", "fleiss_raters": that group
  (0, 0 and null when there is none); null for spans and where statsmodels gives NaN/inf or raises;
- "krippendorff_alpha" = krippendorff.alpha(reliability_data, level_of_measurement="nominal") over
  every kept annotator x every record they rated (np.nan where not rated; records rated once
  included); null for spans and where it gives NaN or raises;
- "label_order": the given labels (first occurrences), then the other labels the kept annotators
  used, sorted; "per_label" (single / multi only): per label L, the binary ratings "is L" /
  "contains L": "cohen_kappa_mean" = numpy mean of the pairs' cohen_kappa_score where not NaN
  (null if none) and "krippendorff_alpha" as above on the binary data.

Usage: agreement_reference.py CASES.json > REPORTS.json
"""
import json
import math
import sys
import warnings

try:
    import numpy as np
    import krippendorff
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
    from seqeval.metrics import classification_report as seqeval_report
except ImportError as error:  # the Rust test turns this exit code into a failure with this text
    sys.stderr.write(
        f"agreement_reference.py needs numpy, scikit-learn, seqeval, statsmodels and krippendorff ({error}).\n"
        "Install them: ./scripts/setup.sh, or .venv/bin/pip install statsmodels krippendorff\n"
        "or point FINELAB_PYTHON at an interpreter that has them.\n"
    )
    sys.exit(3)

warnings.filterwarnings("ignore")  # undefined-kappa and zero-division warnings are expected


def number(value):
    """A finite float, or None for NaN / infinity."""
    value = float(value)
    return value if math.isfinite(value) else None


def guarded(compute):
    """The reference's number, None where it raises or gives NaN."""
    try:
        return number(compute())
    except (ValueError, AssertionError, ZeroDivisionError):
        return None


def iob2(length, spans):
    tags = ["O"] * length
    for span in spans:
        tags[span["start"]] = "B-" + span["label"]
        for i in range(span["start"] + 1, span["end"]):
            tags[i] = "I-" + span["label"]
    return tags


def nominal(kind, value):
    return value if kind == "single" else tuple(sorted(set(value)))


def alpha(ratings, annotators, records, code):
    data = np.full((len(annotators), len(records)), np.nan)
    for i, annotator in enumerate(annotators):
        for j, record in enumerate(records):
            if (record, annotator) in ratings:
                data[i, j] = code(ratings[(record, annotator)])
    return guarded(lambda: krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def report(case):
    kind, only = case["kind"], case["only"]
    ratings = {}  # (record, annotator) -> value, the later rating winning
    for item in case["items"]:
        if only is None or item["annotator"] in only:
            ratings[(item["record"], item["annotator"])] = item["value"]
    raters = {}
    for record, annotator in ratings:
        raters.setdefault(record, []).append(annotator)
    shared = sorted(r for r, names in raters.items() if len(names) >= 2)
    annotators = sorted({a for r in shared for a in raters[r]})

    used = set()
    for value in ratings.values():
        if kind == "single":
            used.add(value)
        elif kind == "multi":
            used.update(value)
        else:
            used.update(s["label"] for s in value)
    label_order = list(dict.fromkeys(case["labels"]))
    label_order += sorted(used - set(label_order))

    pairs = []
    for i, a in enumerate(annotators):
        for b in annotators[i + 1:]:
            common = [r for r in shared if (r, a) in ratings and (r, b) in ratings]
            if not common:
                continue
            pair = {"a": a, "b": b, "n": len(common)}
            if kind == "spans":
                lengths = case["lengths"]
                gold = [iob2(lengths[str(r)], ratings[(r, a)]) for r in common]
                pred = [iob2(lengths[str(r)], ratings[(r, b)]) for r in common]
                rows = seqeval_report(gold, pred, output_dict=True)
                pair["f1"] = float(rows["micro avg"]["f1-score"])
                pair["per_label"] = {
                    k: float(v["f1-score"]) for k, v in rows.items() if not k.endswith(" avg")
                }
            else:
                # Multi-label sets as strings scikit-learn can compare (JSON of the sorted set).
                va = [json.dumps(nominal(kind, ratings[(r, a)])) for r in common]
                vb = [json.dumps(nominal(kind, ratings[(r, b)])) for r in common]
                pair["percent_agreement"] = sum(x == y for x, y in zip(va, vb)) / len(common)
                kappa = guarded(lambda: cohen_kappa_score(va, vb))
                if kappa is not None:
                    pair["cohen_kappa"] = kappa
            pairs.append(pair)

    out = {
        "n_records": len(shared),
        "annotators": annotators,
        "pairs": pairs,
        "fleiss_kappa": None,
        "fleiss_records": 0,
        "fleiss_raters": 0,
        "krippendorff_alpha": None,
        "per_label": {},
        "label_order": label_order,
    }
    if kind == "spans":
        return out

    codes = {v: i for i, v in enumerate(sorted({nominal(kind, v) for v in ratings.values()}))}
    code = lambda value: codes[nominal(kind, value)]  # noqa: E731
    groups = {}
    for r in shared:
        groups.setdefault(len(raters[r]), []).append(r)
    if groups:
        m, records = max(groups.items(), key=lambda g: (len(g[1]), g[0]))
        data = np.array([[code(ratings[(r, a)]) for a in sorted(raters[r])] for r in records])
        out["fleiss_kappa"] = guarded(lambda: fleiss_kappa(aggregate_raters(data)[0], method="fleiss"))
        out["fleiss_records"], out["fleiss_raters"] = len(records), m

    # Every kept annotator who rated anything, every record rated by one of them.
    everyone = sorted({a for _, a in ratings})
    every_record = sorted({r for r, _ in ratings})
    out["krippendorff_alpha"] = alpha(ratings, everyone, every_record, code)

    for label in label_order:
        has = lambda value: int(label == value if kind == "single" else label in value)  # noqa: E731
        kappas = []
        for pair in pairs:
            common = [r for r in shared if (r, pair["a"]) in ratings and (r, pair["b"]) in ratings]
            kappa = guarded(lambda: cohen_kappa_score(
                [has(ratings[(r, pair["a"])]) for r in common], [has(ratings[(r, pair["b"])]) for r in common]
            ))
            if kappa is not None:
                kappas.append(kappa)
        out["per_label"][label] = {
            "cohen_kappa_mean": float(np.mean(kappas)) if kappas else None,
            "krippendorff_alpha": alpha(ratings, everyone, every_record, has),
        }
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    json.dump([report(case) for case in cases], sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
