#!/usr/bin/env python3
"""Checks that a model folder exported by `finelab train` (transformer family) loads unchanged in
Hugging Face `transformers` and gives the same tokens and logits as Finelab.

    python scripts/reference/check_hf_export.py MODEL_DIR [TEXTS.jsonl] [--finelab-logits BIN] [--tol 1e-4]

It loads MODEL_DIR with AutoTokenizer and AutoModelForSequenceClassification (or
AutoModelForTokenClassification, as config.json's architecture says), runs every text through it,
runs the same texts through Finelab (the `transformer_logits` example, built with
`cargo build --release -p finelab-train --example transformer_logits` unless --finelab-logits
names the binary), and compares token ids exactly and logits to --tol (absolute). Texts default
to a built-in mix of Chinese, English, emoji and dialog; texts longer than the model's max_len
are left out (Finelab truncates dialogs by turns, transformers by tokens). Exits 1 on a mismatch.
Needs torch and transformers (pip install torch transformers).
"""
import argparse
import json
import os
import subprocess
import sys

DEFAULT_TEXTS = [
    "这个手机很好，推荐购买",
    "物流太慢了，要退货😡",
    "the phone is great 👍",
    "I hate this shop, delivery late",
    "价格便宜 quality ok",
    "太贵了，张伟说不值",
    "user: 你好\nagent: 请问有什么可以帮您？",
    "Ünïcödé café, naïve résumé",
    "a",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("texts", nargs="?")
    ap.add_argument("--finelab-logits", default=None)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--limit", type=int, default=200)
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    torch.set_grad_enabled(False)
    config = json.load(open(os.path.join(args.model_dir, "config.json")))
    meta = json.load(open(os.path.join(args.model_dir, "finelab-model.json")))
    arch = config["architectures"][0]
    token_task = arch.endswith("ForTokenClassification")
    cls = AutoModelForTokenClassification if token_task else AutoModelForSequenceClassification
    model = cls.from_pretrained(args.model_dir)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)

    if args.texts:
        texts = [json.loads(l)["text"] for l in open(args.texts, encoding="utf-8") if l.strip()][: args.limit]
    else:
        texts = DEFAULT_TEXTS
    texts = [t for t in texts if len(tokenizer(t)["input_ids"]) <= meta["max_len"]]

    binary = args.finelab_logits
    if binary is None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "finelab-train", "--example", "transformer_logits"], cwd=root, check=True)
        binary = os.path.join(root, "target", "release", "examples", "transformer_logits")
    feed = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    run = subprocess.run([binary, args.model_dir], input=feed.encode("utf-8"), capture_output=True, check=True)
    ours = [json.loads(l) for l in run.stdout.decode("utf-8").splitlines() if l.strip()]
    assert len(ours) == len(texts), (len(ours), len(texts))

    worst, n_id_mismatch = 0.0, 0
    for text, mine in zip(texts, ours):
        enc = tokenizer(text, return_tensors="pt")
        ids = enc["input_ids"][0].tolist()
        if ids != mine["ids"]:
            n_id_mismatch += 1
            print(f"token ids differ for {text!r}:\n  transformers {ids}\n  finelab      {mine['ids']}")
            continue
        logits = model(**enc).logits[0]
        theirs = logits.tolist() if token_task else [logits.tolist()]
        diff = max(abs(a - b) for ra, rb in zip(theirs, mine["logits"]) for a, b in zip(ra, rb))
        worst = max(worst, diff)
    print(json.dumps({
        "model_dir": args.model_dir, "architecture": arch, "transformers": transformers.__version__, "torch": torch.__version__,
        "texts": len(texts), "token_id_mismatches": n_id_mismatch, "max_abs_logit_diff": worst, "tol": args.tol,
        "ok": n_id_mismatch == 0 and worst <= args.tol,
    }))
    sys.exit(0 if n_id_mismatch == 0 and worst <= args.tol else 1)


if __name__ == "__main__":
    main()
