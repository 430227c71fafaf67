#!/usr/bin/env python3
"""The Python steps of scripts/bench-transformer.sh.

    bench_transformer_report.py subsample DIR N_TRAIN N_DEV N_TEST
        DIR/full-{train,dev,test}.jsonl (`finelab export`) -> DIR/sub-{train,dev,test}.jsonl and
        DIR/sub-all.jsonl: N of each split, shuffled with seed 42, each row's "split" set, and ids
        made unique across splits (a sentence in two source files has one id in each project).
    bench_transformer_report.py summary OUT DATASET...
        OUT/speed.jsonl, OUT/<dataset>/{finelab-done,finelab-test,hf}-s<seed>.json for each seed
        of $SEEDS (default 42) and OUT/export-check.json -> the table OUT/results.md (also
        printed), with the mean and standard deviation over the seeds.
"""
import json
import os
import random
import sys


def subsample(out, n_train, n_dev, n_test):
    rng = random.Random(42)
    ids = set()
    with open(f"{out}/sub-all.jsonl", "w", encoding="utf-8") as all_out:
        for split, n in (("train", n_train), ("dev", n_dev), ("test", n_test)):
            rows = [json.loads(l) for l in open(f"{out}/full-{split}.jsonl", encoding="utf-8") if l.strip()]
            rng.shuffle(rows)
            with open(f"{out}/sub-{split}.jsonl", "w", encoding="utf-8") as f:
                for r in rows[:n]:
                    r["split"] = split
                    while r["id"] in ids:
                        r["id"] += "-" + split
                    ids.add(r["id"])
                    line = json.dumps(r, ensure_ascii=False) + "\n"
                    f.write(line)
                    all_out.write(line)


def speed_rows(out):
    path = os.path.join(out, "speed.jsonl")
    speed = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    fl = [s for s in speed if s["impl"].startswith("finelab")]
    pt = [s for s in speed if not s["impl"].startswith("finelab")]
    if not fl or not pt:
        return []
    best = lambda rows, k: max(r[k] for r in rows)
    mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)
    phases = ("forward_ms", "backward_ms", "optimizer_ms")
    return [
        ("training samples/s (best of rounds)", f"{best(fl, 'train_samples_per_s'):.2f}", f"{best(pt, 'train_samples_per_s'):.2f}",
         f"{best(fl, 'train_samples_per_s') / best(pt, 'train_samples_per_s'):.2f}"),
        ("inference samples/s (batch 32, best of rounds)", f"{best(fl, 'infer_samples_per_s'):.1f}", f"{best(pt, 'infer_samples_per_s'):.1f}",
         f"{best(fl, 'infer_samples_per_s') / best(pt, 'infer_samples_per_s'):.2f}"),
        ("forward / backward / optimizer ms a step (mean)", " / ".join(f"{mean(fl, k):.0f}" for k in phases),
         " / ".join(f"{mean(pt, k):.0f}" for k in phases), "-"),
        ("matmul GFLOP/s, feed-forward shape (best of rounds)", f"{max(r.get('matmul_gflops', 0) for r in fl):.0f}",
         f"{max(r.get('matmul_gflops', 0) for r in pt):.0f}", f"{max(r.get('matmul_gflops', 0) for r in fl) / max(max(r.get('matmul_gflops', 0) for r in pt), 1e-9):.2f}"),
        ("peak RSS of training, MB", f"{max(r['peak_rss_mb_train'] for r in fl):.0f}", f"{max(r['peak_rss_mb_train'] for r in pt):.0f}", "-"),
    ]


def mean_sd(xs):
    m = sum(xs) / len(xs)
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.0
    return m, sd


def quality_rows(out, name, seeds):
    q = os.path.join(out, name)
    load = lambda f: json.load(open(os.path.join(q, f)))
    rows, ours_f, hf_f, ours_s, hf_s = [], [], [], [], []
    for seed in seeds:
        done, test, hf = load(f"finelab-done-s{seed}.json"), load(f"finelab-test-s{seed}.json"), load(f"hf-s{seed}.json")
        secs = float(open(os.path.join(q, f"finelab-seconds-s{seed}.txt")).read().strip())
        report = test.get("report", test)
        f = report["macro avg"]["f1-score"]
        ours_f.append(f)
        hf_f.append(hf["test_macro_f1"])
        ours_s.append(secs)
        hf_s.append(hf["seconds"])
        rows.append((f"{name} subsample test macro-F1, seed {seed}", f"{f:.4f} (best epoch {done.get('best_epoch')}, {secs:.0f} s)",
                     f"{hf['test_macro_f1']:.4f} (best epoch {hf['best_epoch']}, {hf['seconds']:.0f} s)", f"{f - hf['test_macro_f1']:+.4f}"))
        if "test_micro_f1" in hf:
            labels = hf["labels"]
            m = report["micro avg"]["f1-score"]
            per = lambda r: " / ".join(f"{r.get(l, 0.0):.4f}" for l in labels)
            ours = {l: report[l]["f1-score"] for l in labels if l in report}
            rows.append((f"{name} subsample test entity-level micro-F1, seed {seed}", f"{m:.4f}", f"{hf['test_micro_f1']:.4f} (argmax)", f"{m - hf['test_micro_f1']:+.4f}"))
            rows.append((f"{name} subsample test F1 of {' / '.join(labels)}, seed {seed}", per(ours), f"{per(hf['test_per_label_f1'])} (argmax)", "-"))
            if "viterbi" in hf:
                v = hf["viterbi"]
                rows.append((f"{name}: transformers' model read with Finelab's BIO Viterbi decoding, test macro / micro-F1, seed {seed}",
                             f"{f:.4f} / {m:.4f}", f"{v['test_macro_f1']:.4f} / {v['test_micro_f1']:.4f}",
                             f"{f - v['test_macro_f1']:+.4f} / {m - v['test_micro_f1']:+.4f}"))
    if len(seeds) > 1:
        (om, osd), (hm, hsd) = mean_sd(ours_f), mean_sd(hf_f)
        rows.append((f"{name} subsample test macro-F1, mean ± sd over {len(seeds)} seeds", f"{om:.4f} ± {osd:.4f}",
                     f"{hm:.4f} ± {hsd:.4f}", f"{om - hm:+.4f}"))
        rows.append((f"{name} whole fine-tuning command, mean seconds", f"{mean_sd(ours_s)[0]:.0f}", f"{mean_sd(hf_s)[0]:.0f}",
                     f"{mean_sd(hf_s)[0] / mean_sd(ours_s)[0]:.2f} (speed ratio)"))
    return rows


def summary(out, datasets):
    seeds = os.environ.get("SEEDS", "42").split()
    rows = speed_rows(out)
    for name in datasets:
        rows += quality_rows(out, name, seeds)
    check = json.load(open(os.path.join(out, "export-check.json")))
    rows.append((f"export loads in transformers ({datasets[0]}): max |logit diff| over test texts",
                 f"{check['max_abs_logit_diff']:.2e} ({check['texts']} texts, token ids equal: {check['token_id_mismatches'] == 0})",
                 "-", "ok" if check["ok"] else "FAILED"))
    speed = os.path.join(out, "speed.jsonl")
    cpus = {json.loads(l).get("cpu") for l in open(speed)} - {None} if os.path.exists(speed) else set()
    text = f"CPU: {', '.join(sorted(cpus))}\n\n" if cpus else ""
    text += "| figure | finelab | pytorch + transformers | finelab vs pytorch |\n|---|---|---|---|\n"
    text += "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows)
    open(os.path.join(out, "results.md"), "w").write(text)
    print(text)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "subsample":
        subsample(args[0], *map(int, args[1:4]))
    elif command == "summary":
        summary(args[0], args[1:])
    else:
        sys.exit(f"unknown command {command} (subsample or summary)")
