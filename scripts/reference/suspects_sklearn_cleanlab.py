#!/usr/bin/env python3
"""The reference for `finelab suspects` in the noise-recovery benchmark: out-of-fold predicted
probabilities from scikit-learn (TF-IDF of character 1-3-grams, logistic regression,
`cross_val_predict` over stratified folds) and cleanlab's `find_label_issues` on them.

    python scripts/reference/suspects_sklearn_cleanlab.py RECORDS.jsonl [--folds 5] [--seed 42]

RECORDS.jsonl: `{"id", "text", "label"}` with the (noisy) labels. Prints one JSON line:
`{"suspects": [id, ...]}` ranked by self-confidence, most suspect first, and the seconds taken.
"""
import argparse
import json
import time

import numpy as np
from cleanlab.filter import find_label_issues
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("records")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    started = time.perf_counter()
    rows = [json.loads(l) for l in open(args.records, encoding="utf-8") if l.strip()]
    classes = sorted({r["label"] for r in rows})
    y = np.array([classes.index(r["label"]) for r in rows])
    model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
                          LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    probs = cross_val_predict(model, [r["text"] for r in rows], y, cv=folds, method="predict_proba")
    issues = find_label_issues(y, probs, filter_by="confident_learning", return_indices_ranked_by="self_confidence")
    print(json.dumps({"suspects": [rows[i]["id"] for i in issues], "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
