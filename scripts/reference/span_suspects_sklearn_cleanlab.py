#!/usr/bin/env python3
"""The reference for `finelab suspects` on span projects in the noise-recovery benchmark:
out-of-fold per-character BIO tag probabilities from scikit-learn (logistic regression over hashed
features of a ±2 character window: the characters, bigrams and trigrams around each position,
5 folds over sentences) and cleanlab's token-classification functions on them:
`cleanlab.token_classification.rank.get_label_quality_scores` ranks the sentences (lowest
quality first) and `cleanlab.token_classification.filter.find_label_issues` says which
sentences hold a label issue at all.

    python scripts/reference/span_suspects_sklearn_cleanlab.py RECORDS.jsonl [--folds 5] [--seed 42]

RECORDS.jsonl: `{"id", "text", "spans": [{"start", "end", "label"}]}` (code points) with the
(noisy) spans. Prints one JSON line: `{"ranked": [id, ...], "flagged": [id, ...], "seconds"}`:
every sentence by label quality, and those with an issue, each lowest quality first.
"""
import argparse
import json
import time

import numpy as np
from cleanlab.token_classification.filter import find_label_issues
from cleanlab.token_classification.rank import get_label_quality_scores
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold


def tags_of(text, spans, classes):
    tags = ["O"] * len(text)
    for s in spans:
        for i in range(s["start"], s["end"]):
            tags[i] = ("B-" if i == s["start"] else "I-") + s["label"]
    return [classes.index(t) for t in tags]


def features(text):
    pad = "\x02\x02" + text + "\x03\x03"
    out = []
    for i in range(len(text)):
        j = i + 2
        f = {f"c{d}={pad[j + d]}": 1.0 for d in range(-2, 3)}
        f.update({f"b{d}={pad[j + d:j + d + 2]}": 1.0 for d in range(-2, 2)})
        f.update({f"t{d}={pad[j + d:j + d + 3]}": 1.0 for d in range(-2, 1)})
        out.append(f)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("records")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    started = time.perf_counter()
    rows = [json.loads(l) for l in open(args.records, encoding="utf-8") if l.strip()]
    rows = [r for r in rows if len(r["text"]) > 0]
    types = sorted({s["label"] for r in rows for s in r.get("spans") or []})
    classes = ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]
    texts = [r["text"] for r in rows]
    labels = [np.array(tags_of(r["text"], r.get("spans") or [], classes)) for r in rows]
    hasher = FeatureHasher(n_features=2**20, input_type="dict")
    feats = [hasher.transform(features(t)) for t in texts]
    pred_probs = [None] * len(rows)
    for train_idx, test_idx in KFold(args.folds, shuffle=True, random_state=args.seed).split(rows):
        from scipy.sparse import vstack

        x = vstack([feats[i] for i in train_idx])
        y = np.concatenate([labels[i] for i in train_idx])
        model = LogisticRegression(max_iter=300)
        model.fit(x, y)
        for i in test_idx:
            p = np.zeros((len(texts[i]), len(classes)))
            p[:, model.classes_] = model.predict_proba(feats[i])
            pred_probs[i] = p
    sentence_scores, _ = get_label_quality_scores(labels, pred_probs)
    ranked = [rows[i]["id"] for i in np.argsort(sentence_scores, kind="stable")]
    issues = find_label_issues(labels, pred_probs)
    with_issue = {i for i, _ in issues}
    flagged = [rows[i]["id"] for i in np.argsort(sentence_scores, kind="stable") if i in with_issue]
    print(json.dumps({"ranked": ranked, "flagged": flagged, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
