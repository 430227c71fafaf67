#!/usr/bin/env python3
"""Reference numbers for finelab-train's Wilson score interval (metrics::wilson_interval), the
95 % interval of a blind A/B review's win rate.

Reads a JSON list of [k, n] pairs (written by crates/finelab-train/tests/it/metrics_reference/mod.rs)
from the file named on the command line and prints, for each, [low, high] =
statsmodels.stats.proportion.proportion_confint(k, n, alpha=0.05, method="wilson").
"""
import json
import sys

from statsmodels.stats.proportion import proportion_confint

with open(sys.argv[1]) as f:
    cases = json.load(f)
out = []
for k, n in cases:
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    out.append([float(low), float(high)])
print(json.dumps(out))
