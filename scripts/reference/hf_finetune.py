#!/usr/bin/env python3
"""Hugging Face reference for Finelab's transformer family: fine-tunes the same base model folder
on the same exported train/dev/test JSONL files (`finelab export --split ...`, single-label) with
the same recipe and hyper-parameters as `finelab train --model MODEL_DIR`:

  BertForSequenceClassification (pooler + dropout + linear), cross-entropy; AdamW (betas 0.9/0.999,
  eps 1e-8, weight decay on everything but biases and LayerNorm weights); linear warm-up over
  ceil(warmup_ratio * total_steps) steps then linear decay (get_linear_schedule_with_warmup);
  gradients clipped to global norm 1; inputs [CLS] text [SEP] truncated to max_len, padded per
  batch; a shuffled order per epoch from the seed; dev macro-F1 after each epoch, the best epoch
  kept (early-stopping patience 2), then scored once on test.

The seed policy is the same (a seeded shuffle and seeded dropout), not the same random streams:
PyTorch and Finelab draw different numbers, so equal quality, not equal weights, is expected.

    python scripts/reference/hf_finetune.py MODEL_DIR TRAIN.jsonl DEV.jsonl TEST.jsonl \
        [--epochs 3] [--batch-size 16] [--lr 5e-5] [--max-len 128] [--seed 42] [--threads 2]
Prints one JSON line with per-epoch dev macro-F1, test macro-F1 and accuracy, and seconds.
"""
import argparse
import json
import math
import time

import torch
from sklearn.metrics import accuracy_score, f1_score
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup


def read(path):
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    return [(r["text"], r["label"]) for r in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("train")
    ap.add_argument("dev")
    ap.add_argument("test")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--labels", default=None, help="comma-separated label order (default: sorted)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()

    train, dev, test = read(args.train), read(args.dev), read(args.test)
    labels = args.labels.split(",") if args.labels else sorted({l for _, l in train + dev + test})
    index = {l: i for i, l in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir, num_labels=len(labels))

    def batches(rows, order, size):
        for i in range(0, len(order), size):
            chunk = [rows[j] for j in order[i:i + size]]
            enc = tokenizer([t for t, _ in chunk], truncation=True, max_length=args.max_len, padding=True, return_tensors="pt")
            yield enc, torch.tensor([index[l] for _, l in chunk])

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = steps_per_epoch * args.epochs
    sched = get_linear_schedule_with_warmup(opt, math.ceil(total * args.warmup_ratio), total)

    def evaluate(rows):
        model.eval()
        preds = []
        with torch.inference_mode():
            order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
            out = {}
            for (enc, _), start in zip(batches(rows, order, 64), range(0, len(order), 64)):
                for j, p in zip(order[start:start + 64], model(**enc).logits.argmax(-1).tolist()):
                    out[j] = p
            preds = [out[i] for i in range(len(rows))]
        gold = [index[l] for _, l in rows]
        return f1_score(gold, preds, average="macro", labels=list(range(len(labels))), zero_division=0), accuracy_score(gold, preds)

    gen = torch.Generator().manual_seed(args.seed)
    best, best_state, epochs = -1.0, None, []
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(train), generator=gen).tolist()
        losses = []
        for enc, y in batches(train, order, args.batch_size):
            loss = model(**enc, labels=y).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
        f1, _ = evaluate(dev)
        epochs.append({"epoch": epoch, "train_loss": sum(losses) / len(losses), "dev_macro_f1": f1, "seconds": time.perf_counter() - t0})
        if f1 > best:
            best, best_state = f1, {k: v.detach().clone() for k, v in model.state_dict().items()}
            best_epoch = epoch
        if epoch - best_epoch >= args.patience:
            break
    model.load_state_dict(best_state)
    test_f1, test_acc = evaluate(test)
    print(json.dumps({"impl": f"transformers + torch {torch.__version__}", "labels": labels, "best_epoch": best_epoch,
                      "epochs": epochs, "test_macro_f1": test_f1, "test_accuracy": test_acc,
                      "n_train": len(train), "n_dev": len(dev), "n_test": len(test),
                      "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
