#!/usr/bin/env python3
"""A Finelab training job: fine-tunes an encoder on a project's exact data snapshot with
transformers' Trainer, under Hugging Face Accelerate (one process, several GPUs, several machines).

Written by `finelab export-job`; `finelab import-run PROJECT output` brings the model back as a
run. The recipe is Finelab's (`finelab-job.json`, "config"):
  - inputs [CLS] text [SEP] truncated to max_len tokens, padded per batch;
  - single-label: the encoder's pooled output, dropout, a linear layer, cross-entropy
    (AutoModelForSequenceClassification); spans: one BIO tag per token (a token whose characters
    lie inside a gold span is tagged, the first B, the rest I; special tokens ignored),
    AutoModelForTokenClassification, spans decoded with the BIO-constrained Viterbi decoding
    Finelab uses, read back to character offsets;
  - AdamW (betas 0.9/0.999, eps 1e-8, weight decay on everything but biases and LayerNorm),
    linear warm-up over ceil(warmup_ratio x total steps) then linear decay, gradients clipped to
    max_grad_norm, gradient accumulation;
  - dev macro-F1 after every epoch (entity types for spans), the best epoch kept, early stopping
    after `patience` epochs without a better one; then dev and test scored once with the best model.
Generate projects: a causal language model (Qwen2 / Qwen3 / Llama) fine-tuned with LoRA (peft) or
fully, on each dialog rendered with the model's chat template, the loss on the answer's tokens
only (dialogs too long drop their oldest turns), the epoch with the lowest dev loss kept; then
greedy answers to the dev and test dialogs.
The global batch is Finelab's batch_size: each of N processes takes batch_size / N.

    accelerate launch --config_file accelerate_config.yaml train.py [--model BASE] [--output DIR]

Writes OUTPUT/model (a Hugging Face folder), OUTPUT/predictions-{dev,test}.jsonl,
OUTPUT/trainer_report.json and a copy of finelab-job.json.
"""
import argparse
import json
import math
import os
import shutil
import time

import numpy as np
import torch
import transformers
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
)

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "vocab.json", "merges.txt", "sentencepiece.bpe.model")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Rows(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class Single:
    """Single-label classification."""

    def __init__(self, job, tokenizer, max_len):
        self.labels, self.tokenizer, self.max_len = job["labels"], tokenizer, max_len
        self.index = {label: i for i, label in enumerate(self.labels)}

    def model(self, base, outputs):
        return AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(outputs), id2label=dict(enumerate(outputs)),
            label2id={l: i for i, l in enumerate(outputs)}, problem_type="single_label_classification")

    def collator(self):
        return DataCollatorWithPadding(self.tokenizer)

    def encode(self, rows):
        items = []
        for r in rows:
            enc = self.tokenizer(r["text"], truncation=True, max_length=self.max_len)
            items.append({**enc, "labels": self.index[r["label"]]})
        return items

    def decode(self, rows, logits):
        return [{"id": r["id"], "label": self.labels[int(k)]} for r, k in zip(rows, np.asarray(logits).argmax(-1))]

    def score(self, rows, preds):
        from sklearn.metrics import accuracy_score, f1_score
        gold = [self.index[r["label"]] for r in rows]
        pred = [self.index[p["label"]] for p in preds]
        every = list(range(len(self.labels)))
        per_label = f1_score(gold, pred, labels=every, average=None, zero_division=0)
        return {
            "macro_f1": float(f1_score(gold, pred, labels=every, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(gold, pred)),
            "per_label_f1": {l: float(f) for l, f in zip(self.labels, per_label)},
            "n": len(rows),
        }


class Spans:
    """Spans: BIO tags per token; tags O, then B-x = 1 + 2k, I-x = 2 + 2k."""

    def __init__(self, job, tokenizer, max_len):
        self.labels, self.tokenizer, self.max_len = job["labels"], tokenizer, max_len
        self.offsets = {}

    def model(self, base, outputs):
        return AutoModelForTokenClassification.from_pretrained(
            base, num_labels=len(outputs), id2label=dict(enumerate(outputs)),
            label2id={l: i for i, l in enumerate(outputs)})

    def collator(self):
        return DataCollatorForTokenClassification(self.tokenizer)

    def tokenize(self, text):
        enc = self.tokenizer(text, truncation=True, max_length=self.max_len,
                             return_offsets_mapping=True, return_special_tokens_mask=True)
        offsets, special = enc.pop("offset_mapping"), enc.pop("special_tokens_mask")
        # Offsets in code points: Python strings index by code point, as Finelab's spans do.
        keep = [i for i, ((s, e), sp) in enumerate(zip(offsets, special)) if not sp and e > s]
        return enc, offsets, keep

    def encode(self, rows):
        items = []
        for r in rows:
            enc, offsets, keep = self.tokenize(r["text"])
            tags = [-100] * len(enc["input_ids"])
            for i in keep:
                tags[i] = 0
            for span in sorted(r.get("spans", []), key=lambda s: (s["start"], -s["end"])):
                if span["label"] not in self.labels:
                    continue
                k = self.labels.index(span["label"])
                inside = [i for i in keep if offsets[i][0] >= span["start"] and offsets[i][1] <= span["end"]]
                if not inside or any(tags[i] != 0 for i in inside):
                    continue
                for n, i in enumerate(inside):
                    tags[i] = 1 + 2 * k if n == 0 else 2 + 2 * k
            items.append({**enc, "labels": tags})
        return items

    @staticmethod
    def viterbi(log_probs):
        """The best tag sequence in which I-x only follows B-x or I-x."""
        n, n_tags = log_probs.shape
        allowed = np.ones((n_tags + 1, n_tags), dtype=bool)  # row n_tags: the start
        for tag in range(2, n_tags, 2):
            allowed[:, tag] = False
            allowed[tag - 1, tag] = allowed[tag, tag] = True
        penalty = np.where(allowed, 0.0, -np.inf)
        score = log_probs[0] + penalty[n_tags]
        back = []
        for t in range(1, n):
            cand = score[:, None] + penalty[:n_tags]
            back.append(cand.argmax(0))
            score = cand.max(0) + log_probs[t]
        tag = int(score.argmax())
        path = [tag]
        for arg in reversed(back):
            tag = int(arg[tag])
            path.append(tag)
        return path[::-1]

    def decode(self, rows, logits):
        out = []
        for r, row_logits in zip(rows, logits):
            _, offsets, keep = self.tokenize(r["text"])
            x = np.asarray(row_logits, dtype=np.float64)[keep]
            x = x - x.max(-1, keepdims=True)
            log_probs = x - np.log(np.exp(x).sum(-1, keepdims=True))
            tags = self.viterbi(log_probs) if keep else []
            spans, current = [], None
            for i, t in zip(keep, tags):
                if t == 0:
                    current = None
                    continue
                k, begin = (t - 1) // 2, t % 2 == 1
                s, e = offsets[i]
                if begin or current is None or current["label"] != self.labels[k]:
                    current = {"start": s, "end": e, "label": self.labels[k]}
                    spans.append(current)
                else:
                    current["end"] = e
            out.append({"id": r["id"], "spans": spans})
        return out

    @staticmethod
    def char_tags(text, spans):
        tags = ["O"] * len(text)
        for s in sorted(spans, key=lambda x: (x["start"], -x["end"])):
            if s["start"] >= s["end"] or any(t != "O" for t in tags[s["start"]:s["end"]]):
                continue
            tags[s["start"]:s["end"]] = [f"B-{s['label']}"] + [f"I-{s['label']}"] * (s["end"] - s["start"] - 1)
        return tags

    def score(self, rows, preds):
        from seqeval.metrics import classification_report
        gold = [self.char_tags(r["text"], r.get("spans", [])) for r in rows]
        pred = [self.char_tags(r["text"], p["spans"]) for r, p in zip(rows, preds)]
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        return {
            "macro_f1": float(report["macro avg"]["f1-score"]),
            "micro_f1": float(report["micro avg"]["f1-score"]),
            "per_label_f1": {l: float(report[l]["f1-score"]) for l in self.labels if l in report},
            "n": len(rows),
        }


def recipe_arguments(cfg, output, n_train, world, use_cpu, **extra):
    """Finelab's recipe as TrainingArguments: AdamW (betas 0.9/0.999, eps 1e-8), warm-up over
    ceil(warmup_ratio x total steps) then linear decay, clipping, an evaluation, a checkpoint and a
    log line per epoch, the best epoch kept; the global batch split over `world` processes."""
    per_device = cfg["batch_size"] // world
    steps_per_epoch = max(math.ceil(math.ceil(n_train / world) / per_device) // cfg["grad_accum"], 1)
    total = steps_per_epoch * cfg["epochs"]
    return TrainingArguments(
        output_dir=os.path.join(output, "checkpoints"),
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=cfg["grad_accum"],
        num_train_epochs=cfg["epochs"],
        learning_rate=cfg["lr"],
        weight_decay=cfg["weight_decay"],
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        optim="adamw_torch",
        lr_scheduler_type="linear",
        warmup_steps=math.ceil(total * cfg["warmup_ratio"]),
        max_grad_norm=cfg["max_grad_norm"] if cfg["max_grad_norm"] > 0 else 1e9,
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        save_total_limit=2,
        save_only_model=True,
        load_best_model_at_end=True,
        seed=cfg["seed"],
        data_seed=cfg["seed"],
        use_cpu=use_cpu,
        ddp_backend="gloo" if use_cpu and world > 1 else None,
        remove_unused_columns=False,
        report_to="none",
        disable_tqdm=True,
        **extra,
    )


class ChatEncoder:
    """A dialog and its answer as ids, the loss on the answer only (as Finelab encodes them): the
    answer's ids are what the chat template renders after the generation prompt for an assistant
    turn saying it, else its own ids and the eos token; too long a dialog drops its oldest
    non-system turns (never the last), then keeps the end of the prompt and cuts the answer."""

    def __init__(self, tokenizer, eos_id):
        self.tok, self.eos_id = tokenizer, eos_id

    def ids(self, text):
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def render(self, messages, generation_prompt):
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)

    def full(self, messages, target):
        prompt = self.render(messages, True)
        full = self.render(messages + [{"role": "assistant", "content": target}], False)
        rest = full[len(prompt):] if full.startswith(prompt) else None
        target_ids = self.ids(rest) if rest is not None and target in rest else self.ids(target) + [self.eos_id]
        return self.ids(prompt), target_ids

    def encode(self, messages, target, max_len):
        kept = list(messages)
        prompt, target_ids = self.full(kept, target)
        while len(prompt) + len(target_ids) > max_len:
            oldest = next((i for i, m in enumerate(kept[:-1]) if m["role"] != "system"), None)
            if oldest is None:
                break
            del kept[oldest]
            prompt, target_ids = self.full(kept, target)
        if len(prompt) + len(target_ids) > max_len:
            room = max_len - min(len(target_ids), max_len // 2)
            if len(prompt) > room:
                prompt = prompt[len(prompt) - room:]
            target_ids = target_ids[:max_len - len(prompt)]
        ids = prompt + target_ids
        start = max(len(prompt), 1)
        return {"input_ids": ids, "labels": [-100] * start + ids[start:]}


def main_generate(job, args, job_file, started, world, rank):
    """Fine-tunes a generator (LoRA or full) with Trainer; answers the dev and test dialogs."""
    from transformers import AutoModelForCausalLM
    cfg = job["config"]
    base = args.model or cfg["base_model"]
    output = args.output or os.path.join(args.job, "output")
    per_device = cfg["batch_size"] // world
    use_cpu = cfg.get("device") == "cpu" or not torch.cuda.is_available()
    transformers.set_seed(cfg["seed"])
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    eos = model.generation_config.eos_token_id
    eos_ids = {tokenizer.convert_tokens_to_ids(tokenizer.eos_token)}
    eos_ids |= set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    eos_ids = sorted(i for i in eos_ids if i is not None)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    max_len = min(cfg["max_len"], getattr(model.config, "max_position_embeddings", None) or 4096)
    encoder = ChatEncoder(tokenizer, eos_ids[0])
    data = {name: read_jsonl(os.path.join(args.job, "data", f"{name}.jsonl")) for name in ("train", "dev", "test")}
    dev_rows = data["dev"] or data["train"]
    train_set = Rows([encoder.encode(r["messages"], r["target"], max_len) for r in data["train"]])
    dev_set = Rows([encoder.encode(r["messages"], r["target"], max_len) for r in dev_rows])
    if not cfg["full_finetune"]:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(
            r=cfg["lora_rank"], lora_alpha=cfg["lora_alpha"], lora_dropout=cfg["lora_dropout"],
            target_modules=cfg["lora_targets"], bias="none", task_type="CAUSAL_LM"))

    def collate(items):
        seq = max(len(it["input_ids"]) for it in items)
        ids = torch.full((len(items), seq), pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), seq), dtype=torch.long)
        labels = torch.full((len(items), seq), -100, dtype=torch.long)
        for r, it in enumerate(items):
            n = len(it["input_ids"])
            ids[r, :n], mask[r, :n], labels[r, :n] = torch.tensor(it["input_ids"]), 1, torch.tensor(it["labels"])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    training_args = recipe_arguments(cfg, output, len(train_set), world, use_cpu, per_device_eval_batch_size=per_device,
                                     metric_for_best_model="eval_loss", greater_is_better=False,
                                     prediction_loss_only=True)
    trainer = Trainer(model=model, args=training_args, train_dataset=train_set, eval_dataset=dev_set,
                      data_collator=collate, callbacks=[EarlyStoppingCallback(early_stopping_patience=cfg["patience"])])
    trainer.train()
    if rank != 0:
        return
    model = trainer.model
    model.eval()
    max_new = int(job["run_config"].get("max_new_tokens") or 256)
    predictions, reports = {}, {}
    for name in ("dev", "test"):
        rows = data[name]
        if not rows:
            continue
        outputs = []
        with torch.inference_mode():
            for r in rows:
                prompt = torch.tensor([encoder.ids(encoder.render(r["messages"], True))], device=model.device)
                ids = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                     max_new_tokens=max_new, eos_token_id=eos_ids, pad_token_id=pad_id)
                outputs.append(tokenizer.decode(ids[0, prompt.shape[1]:], skip_special_tokens=True))
        predictions[name] = [{"id": r["id"], "output": o} for r, o in zip(rows, outputs)]
        reports[name] = {"n": len(rows), "exact_match": sum(o.strip() == r["target"].strip() for r, o in zip(rows, outputs)) / len(rows)}
        try:
            import sacrebleu
            reports[name]["chrf"] = sacrebleu.corpus_chrf(outputs, [[r["target"] for r in rows]]).score
        except ImportError:
            pass
    model_dir = os.path.join(output, "model")
    # A PEFT adapter (adapter_config.json, adapter_model.safetensors), or the whole folder.
    model.save_pretrained(model_dir)
    for n in GENERATOR_SIDE_FILES:
        if os.path.isfile(os.path.join(base, n)):
            shutil.copy(os.path.join(base, n), os.path.join(model_dir, n))
    write_outputs(job, args, job_file, output, trainer, predictions, reports, world, use_cpu, started,
                  lambda h: -h["eval_loss"], "eval_loss", lambda best: -best)


GENERATOR_SIDE_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                        "chat_template.jinja", "vocab.json", "merges.txt")


def write_outputs(job, args, job_file, output, trainer, predictions, reports, world, use_cpu, started,
                  dev_score, key, best_score):
    """Predictions, trainer_report.json and the job's manifest beside the model (main process).
    Epochs carry `dev_macro_f1` as Finelab's runs do (minus the dev loss for a generator)."""
    for name, preds in predictions.items():
        with open(os.path.join(output, f"predictions-{name}.jsonl"), "w", encoding="utf-8") as f:
            for p in preds:
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
    history = trainer.state.log_history
    losses = {round(h["epoch"]): h["loss"] for h in history if "loss" in h and "epoch" in h}
    evals = [h for h in history if key in h]
    epochs = [{"epoch": round(h["epoch"]), "train_loss": losses.get(round(h["epoch"])),
               "dev_macro_f1": dev_score(h), "dev_is_train": not job["n_dev"]} for h in evals]
    best = best_score(trainer.state.best_metric) if trainer.state.best_metric is not None else None
    best_epoch = next((e["epoch"] for e in epochs if e["dev_macro_f1"] == best), epochs[-1]["epoch"] if epochs else 0)
    import accelerate
    report = {
        "trainer": f"transformers {transformers.__version__}, torch {torch.__version__}, accelerate {accelerate.__version__}",
        "world_size": world,
        "device": "cpu" if use_cpu else "cuda",
        "best_epoch": best_epoch,
        "epochs": epochs,
        "dev": reports.get("dev"),
        "test": reports.get("test"),
        "data_hash": job["data_hash"],
        "seconds": time.perf_counter() - started,
    }
    with open(os.path.join(output, "trainer_report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=2)
    shutil.copy(job_file, os.path.join(output, "finelab-job.json"))
    if not args.keep_checkpoints:
        shutil.rmtree(os.path.join(output, "checkpoints"), ignore_errors=True)
    print(json.dumps({"best_epoch": best_epoch, "dev": reports.get("dev"), "test": reports.get("test")}, ensure_ascii=False))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--job", default=HERE, help="the job folder (default: this script's)")
    ap.add_argument("--model", default=None, help="the base model folder or hub name (default: the job's)")
    ap.add_argument("--output", default=None, help="where to write the model and reports (default: JOB/output)")
    ap.add_argument("--keep-checkpoints", action="store_true", help="keep the per-epoch checkpoints")
    args = ap.parse_args()
    started = time.perf_counter()
    job_file = os.path.join(args.job, "finelab-job.json")
    with open(job_file, encoding="utf-8") as f:
        job = json.load(f)
    if job.get("format") != "finelab-job" or job.get("format_version") != 1:
        raise SystemExit(f"{job_file}: not a Finelab job (format finelab-job v1)")
    cfg = job["config"]
    base = args.model or cfg["base_model"]
    output = args.output or os.path.join(args.job, "output")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if cfg["batch_size"] % world:
        raise SystemExit(f"the job's batch size {cfg['batch_size']} does not split over {world} processes; "
                         "launch a number of processes that divides it")
    if job["task"] == "generate":
        return main_generate(job, args, job_file, started, world, rank)
    per_device = cfg["batch_size"] // world
    use_cpu = cfg.get("device") == "cpu" or not torch.cuda.is_available()

    transformers.set_seed(cfg["seed"])
    tokenizer = AutoTokenizer.from_pretrained(base)
    task_class = {"single": Single, "spans": Spans}.get(job["task"])
    if task_class is None:
        raise SystemExit(f"task {job['task']!r}: this job script trains single-label and span projects")
    probe = transformers.AutoConfig.from_pretrained(base)
    offset = 2 if probe.model_type in ("roberta", "xlm-roberta") else 0
    max_len = max(3, min(cfg["max_len"], probe.max_position_embeddings - offset))
    task = task_class(job, tokenizer, max_len)
    model = task.model(base, job["outputs"])

    data = {name: read_jsonl(os.path.join(args.job, "data", f"{name}.jsonl")) for name in ("train", "dev", "test")}
    dev_rows = data["dev"] or data["train"]
    train_set, dev_set = Rows(task.encode(data["train"])), Rows(task.encode(dev_rows))
    def compute_metrics(p):
        logits = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions
        return {"macro_f1": task.score(dev_rows, task.decode(dev_rows, logits))["macro_f1"]}

    training_args = recipe_arguments(cfg, output, len(train_set), world, use_cpu,
                                     per_device_eval_batch_size=max(per_device, 32),
                                     metric_for_best_model="macro_f1", greater_is_better=True)
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_set,
        eval_dataset=dev_set,
        data_collator=task.collator(),
        compute_metrics=compute_metrics,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=cfg["patience"])],
    )
    trainer.train()

    # Every process takes part in predicting; the main one writes. (compute_metrics scores the dev
    # split during training only.)
    trainer.compute_metrics = None
    predictions, reports = {}, {}
    for name in ("dev", "test"):
        rows = data[name]
        if not rows:
            continue
        out = trainer.predict(Rows(task.encode(rows)))
        logits = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
        predictions[name] = task.decode(rows, logits)
        reports[name] = task.score(rows, predictions[name])
    if rank != 0:
        return
    model_dir = os.path.join(output, "model")
    trainer.save_model(model_dir)
    copied = [n for n in TOKENIZER_FILES if os.path.isfile(os.path.join(base, n))]
    if "tokenizer.json" in copied:
        # The base folder's own tokenizer files: Finelab reads tokenizer.json as it was trained with.
        for n in copied:
            shutil.copy(os.path.join(base, n), os.path.join(model_dir, n))
    else:
        tokenizer.save_pretrained(model_dir)
    write_outputs(job, args, job_file, output, trainer, predictions, reports, world, use_cpu, started,
                  lambda h: h["eval_macro_f1"], "eval_macro_f1", lambda best: best)


if __name__ == "__main__":
    main()
