#!/usr/bin/env python3
"""Hugging Face reference for Finelab's transformer family: fine-tunes the same base model folder
on the same exported train/dev/test JSONL files (`finelab export --split ...`) with the same recipe
and hyper-parameters as `finelab train --model MODEL_DIR`:

  --task single (default): AutoModelForSequenceClassification (pooler + dropout + linear),
  cross-entropy, dev and test macro-F1 (scikit-learn).
  --task spans: AutoModelForTokenClassification, one BIO tag per token as Finelab assigns them
  (a token whose code points lie inside a gold span is tagged, the first B, the rest I; special
  tokens ignored by the loss), argmax decoding (as transformers' pipelines do; the test split is
  also scored with Finelab's BIO-constrained Viterbi decoding, under "viterbi") read back to
  code-point spans through the tokenizer's offsets, entity-level exact match scored by seqeval on per-character BIO tags of
  the whole text (entities past max_len count as missed), dev macro-F1 over entity types.

  Both: AdamW (betas 0.9/0.999, eps 1e-8, weight decay on everything but biases and LayerNorm
  weights); linear warm-up over ceil(warmup_ratio * total_steps) steps then linear decay
  (get_linear_schedule_with_warmup); gradients clipped to global norm 1; inputs [CLS] text [SEP]
  truncated to max_len, padded per batch; a shuffled order per epoch from the seed; dev macro-F1
  after each epoch, the best epoch kept (early-stopping patience 2), then scored once on test.

The seed policy is the same (a seeded shuffle and seeded dropout), not the same random streams:
PyTorch and Finelab draw different numbers, so equal quality, not equal weights, is expected.

    python scripts/reference/hf_finetune.py MODEL_DIR TRAIN.jsonl DEV.jsonl TEST.jsonl \
        [--task single|spans] [--epochs 3] [--batch-size 16] [--lr 5e-5] [--max-len 128] \
        [--seed 42] [--threads 2] [--labels a,b,...]
Prints one JSON line with per-epoch dev macro-F1, test macro-F1 (and, for spans, test
entity-level micro-F1), and seconds.
"""
import argparse
import json
import math
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer, get_linear_schedule_with_warmup


def read_rows(path):
    return [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]


class Single:
    """Single-label classification: rows are (text, label index)."""

    def __init__(self, args, tokenizer, rows):
        self.args, self.tokenizer = args, tokenizer
        self.labels = args.labels.split(",") if args.labels else sorted({r["label"] for part in rows for r in part})
        self.index = {l: i for i, l in enumerate(self.labels)}

    def model(self):
        return AutoModelForSequenceClassification.from_pretrained(self.args.model_dir, num_labels=len(self.labels))

    def encode(self, chunk):
        enc = self.tokenizer([r["text"] for r in chunk], truncation=True, max_length=self.args.max_len, padding=True, return_tensors="pt")
        return enc, torch.tensor([self.index[r["label"]] for r in chunk])

    def predict(self, model, chunk, decode="argmax"):
        enc, _ = self.encode(chunk)
        return model(**enc).logits.argmax(-1).tolist()

    def score(self, rows, preds):
        from sklearn.metrics import accuracy_score, f1_score
        gold = [self.index[r["label"]] for r in rows]
        macro = f1_score(gold, preds, average="macro", labels=list(range(len(self.labels))), zero_division=0)
        return macro, {"test_accuracy": accuracy_score(gold, preds)}


class Spans:
    """Token classification: rows carry code-point spans; tags O, then B-x = 1 + 2k, I-x = 2 + 2k."""

    def __init__(self, args, tokenizer, rows):
        self.args, self.tokenizer = args, tokenizer
        self.labels = args.labels.split(",") if args.labels else sorted({s["label"] for part in rows for r in part for s in r.get("spans", [])})

    def model(self):
        return AutoModelForTokenClassification.from_pretrained(self.args.model_dir, num_labels=1 + 2 * len(self.labels))

    def tokenize(self, chunk):
        return self.tokenizer([r["text"] for r in chunk], truncation=True, max_length=self.args.max_len, padding=True,
                              return_offsets_mapping=True, return_special_tokens_mask=True, return_tensors="pt")

    def encode(self, chunk):
        enc = self.tokenize(chunk)
        offsets, special = enc.pop("offset_mapping").tolist(), enc.pop("special_tokens_mask").tolist()
        tags = []
        for r, offs, spec in zip(chunk, offsets, special):
            row = [-100 if sp or e <= s else 0 for (s, e), sp in zip(offs, spec)]
            for span in sorted(r.get("spans", []), key=lambda x: (x["start"], -x["end"])):
                if span["label"] not in self.labels:
                    continue
                k = self.labels.index(span["label"])
                inside = [i for i, ((s, e), sp) in enumerate(zip(offs, spec)) if not sp and s < e and s >= span["start"] and e <= span["end"]]
                if not inside or any(row[i] != 0 for i in inside):
                    continue
                for n, i in enumerate(inside):
                    row[i] = 1 + 2 * k if n == 0 else 2 + 2 * k
            tags.append(row)
        return enc, torch.tensor(tags)

    @staticmethod
    def viterbi(log_probs):
        """The best tag sequence in which I-x only follows B-x or I-x (Finelab's decoding)."""
        n, n_tags = log_probs.shape
        allowed = torch.ones(n_tags + 1, n_tags, dtype=torch.bool)  # row n_tags: the start
        for tag in range(2, n_tags, 2):
            allowed[:, tag] = False
            allowed[tag - 1, tag] = allowed[tag, tag] = True
        score = torch.where(allowed[n_tags], log_probs[0], torch.tensor(float("-inf")))
        back = []
        for t in range(1, n):
            cand = score[:, None] + torch.where(allowed[:n_tags], 0.0, float("-inf"))
            best, arg = cand.max(0)
            back.append(arg)
            score = best + log_probs[t]
        tag = int(score.argmax())
        path = [tag]
        for arg in reversed(back):
            tag = int(arg[tag])
            path.append(tag)
        return path[::-1]

    def predict(self, model, chunk, decode="argmax"):
        enc = self.tokenize(chunk)
        offsets, special = enc.pop("offset_mapping").tolist(), enc.pop("special_tokens_mask").tolist()
        log_probs = model(**enc).logits.float().log_softmax(-1)
        out = []
        for offs, spec, lp in zip(offsets, special, log_probs):
            keep = [i for i, ((s, e), sp) in enumerate(zip(offs, spec)) if not sp and e > s]
            offs = [offs[i] for i in keep]
            tags = self.viterbi(lp[keep]) if decode == "viterbi" and keep else lp[keep].argmax(-1).tolist()
            spans, current = [], None
            for (s, e), t in zip(offs, tags):
                if t == 0:
                    current = None
                    continue
                k, begin = (t - 1) // 2, t % 2 == 1
                if begin or current is None or current[2] != k:
                    current = [s, e, k]
                    spans.append(current)
                else:
                    current[1] = e
            out.append([(s, e, self.labels[k]) for s, e, k in spans])
        return out

    def char_tags(self, text, spans):
        tags = ["O"] * len(text)
        for s, e, label in sorted(spans, key=lambda x: (x[0], -x[1])):
            if s >= e or any(t != "O" for t in tags[s:e]):
                continue
            tags[s:e] = [f"B-{label}"] + [f"I-{label}"] * (e - s - 1)
        return tags

    def score(self, rows, preds):
        from seqeval.metrics import classification_report
        gold = [self.char_tags(r["text"], [(s["start"], s["end"], s["label"]) for s in r.get("spans", [])]) for r in rows]
        pred = [self.char_tags(r["text"], p) for r, p in zip(rows, preds)]
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        return report["macro avg"]["f1-score"], {
            "test_micro_f1": report["micro avg"]["f1-score"],
            "test_per_label_f1": {l: report[l]["f1-score"] for l in self.labels if l in report},
        }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("train")
    ap.add_argument("dev")
    ap.add_argument("test")
    ap.add_argument("--task", choices=("single", "spans"), default="single")
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

    train, dev, test = read_rows(args.train), read_rows(args.dev), read_rows(args.test)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    task = (Spans if args.task == "spans" else Single)(args, tokenizer, (train, dev, test))
    model = task.model()

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = steps_per_epoch * args.epochs
    sched = get_linear_schedule_with_warmup(opt, math.ceil(total * args.warmup_ratio), total)

    def evaluate(rows, decode="argmax"):
        model.eval()
        with torch.inference_mode():
            order = sorted(range(len(rows)), key=lambda i: len(rows[i]["text"]))
            out = {}
            for start in range(0, len(order), 64):
                part = order[start:start + 64]
                for j, p in zip(part, task.predict(model, [rows[i] for i in part], decode)):
                    out[j] = p
        return task.score(rows, [out[i] for i in range(len(rows))])

    gen = torch.Generator().manual_seed(args.seed)
    best, best_state, best_epoch, epochs = -1.0, None, 0, []
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(train), generator=gen).tolist()
        losses = []
        for i in range(0, len(order), args.batch_size):
            enc, y = task.encode([train[j] for j in order[i:i + args.batch_size]])
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
            best, best_state, best_epoch = f1, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch
        if epoch - best_epoch >= args.patience:
            break
    model.load_state_dict(best_state)
    test_f1, extra = evaluate(test)
    if args.task == "spans":
        # The same model read with Finelab's decoding, to tell training apart from decoding.
        viterbi_f1, viterbi = evaluate(test, "viterbi")
        extra["viterbi"] = {"test_macro_f1": viterbi_f1, **viterbi}
    print(json.dumps({"impl": f"transformers + torch {torch.__version__}", "task": args.task, "labels": task.labels,
                      "best_epoch": best_epoch, "epochs": epochs, "test_macro_f1": test_f1, **extra,
                      "n_train": len(train), "n_dev": len(dev), "n_test": len(test),
                      "seconds": time.perf_counter() - started}, ensure_ascii=False))


if __name__ == "__main__":
    main()
