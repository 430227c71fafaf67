#!/usr/bin/env python3
"""transformers' side of `finelab predict` over a file (issue 19's whole-command comparison): the
same fine-tuned folder (a `finelab train --model` output loads in transformers) read by
`pipeline("text-classification")` on the CPU, over the same JSON Lines file, tokenization
included, the batch size and truncation length given, as a user of transformers would run it.

    python scripts/reference/hf_pipeline_predict.py MODEL_DIR TEXTS.jsonl [--batch-size 32]
        [--max-len 64] [--threads 2] [--out PRED.jsonl] [--compare FINELAB_PRED.jsonl]

Prints one JSON line: texts, seconds (loading included), texts/s and, with --compare, how many
labels equal those of `finelab predict`'s output (same order of lines).
"""
import argparse
import json
import time

t_start = time.perf_counter()
import torch  # noqa: E402  (imports are part of the command's time)
from transformers import pipeline  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("texts")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--compare")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = [json.loads(l) for l in open(a.texts, encoding="utf-8") if l.strip()]
    texts = [r["text"] for r in rows]
    pipe = pipeline("text-classification", model=a.model_dir, tokenizer=a.model_dir, device="cpu")
    with torch.inference_mode():
        preds = pipe(texts, batch_size=a.batch_size, truncation=True, max_length=a.max_len)
    seconds = time.perf_counter() - t_start
    labels = [p["label"] for p in preds]
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            for r, p in zip(rows, preds):
                f.write(json.dumps({"id": r.get("id"), "label": p["label"], "score": p["score"]}, ensure_ascii=False) + "\n")
    record = {"impl": f"transformers {__import__('transformers').__version__} pipeline", "texts": len(texts),
              "seconds": seconds, "texts_per_s": len(texts) / seconds}
    if a.compare:
        ours = [json.loads(l)["label"] for l in open(a.compare, encoding="utf-8") if l.strip()]
        record["same_label_as_finelab"] = sum(x == y for x, y in zip(ours, labels))
        record["compared"] = min(len(ours), len(labels))
    print(json.dumps(record))


if __name__ == "__main__":
    main()
