#!/usr/bin/env python3
"""cleanlab's answer for each case of a JSON file of confident-learning cases
(`crates/finelab-train/tests/it/metrics_reference/mod.rs` writes them):

    [{"probs": [[p, ...], ...], "labels": [class, ...]}, ...]

prints, per case, the indices cleanlab.filter.find_label_issues(labels, probs,
filter_by="confident_learning") returns ranked by self-confidence and by normalized margin,
and cleanlab's per-class thresholds (cleanlab.count.get_confident_thresholds):

    [{"self_confidence": [i, ...], "normalized_margin": [i, ...], "thresholds": [t, ...]}, ...]
"""
import json
import sys

import numpy as np
from cleanlab.count import get_confident_thresholds
from cleanlab.filter import find_label_issues


def main():
    cases = json.load(open(sys.argv[1], encoding="utf-8"))
    out = []
    for case in cases:
        probs, labels = np.array(case["probs"], dtype=np.float64), np.array(case["labels"])
        ranked = {
            rank: [int(i) for i in find_label_issues(labels, probs, filter_by="confident_learning",
                                                     return_indices_ranked_by=rank)]
            for rank in ("self_confidence", "normalized_margin")
        }
        ranked["thresholds"] = [float(t) for t in get_confident_thresholds(labels, probs)]
        out.append(ranked)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
