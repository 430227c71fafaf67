#!/usr/bin/env python3
"""PyTorch + transformers + peft reference for Finelab's generator family: fine-tunes the same base
model folder (a decoder with a chat template) on the same dialogs with the same recipe as
`finelab train --model MODEL_DIR` does for a generate project, so the two trainers can be compared
loss for loss and score for score.

Data: OpenAI chat JSON Lines (`finelab export DIR --format openai --split train|dev|test`), one
`{"messages": [...]}` a line whose last message is the assistant's answer to learn.

The recipe, as `crates/finelab-train/src/generator/` has it:
  - the dialog rendered with the model's chat template (`apply_chat_template`, generation prompt
    on); the target's ids are what the template renders after that prompt for an assistant turn
    saying the target (closing tokens included), else the target's own ids and the eos token;
    the loss covers the target tokens only; too long a dialog drops its oldest non-system turns
    (never the last), then keeps the end of the prompt and cuts the target's end;
  - LoRA (peft) of rank r, alpha, dropout on the input, on the named projections, base frozen;
    or every weight with --full-finetune;
  - AdamW (betas 0.9/0.999, eps 1e-8), linear warm-up over ceil(warmup_ratio * total steps) then
    linear decay to zero, gradients clipped to global norm 1, batches of --batch-size right-padded
    dialogs in a shuffled order per epoch, the loss the mean over the batch's target tokens;
  - after each epoch the dev loss (mean negative log-likelihood per target token, no dropout);
    the epoch with the lowest dev loss is kept, training stops after --patience epochs without
    a better one; the kept model answers the dev and test dialogs greedily (at most
    --max-new-tokens tokens, stopping at the eos ids of the tokenizer and generation_config.json,
    special tokens left out of the text) and sacrebleu scores them (corpus chrF2, BLEU with the
    `zh` tokenizer when the references hold CJK, else `13a`).

The seed policy is the same (a seeded shuffle, seeded LoRA initialisation and dropout), not the
same random streams: PyTorch and Finelab draw different numbers, so equal quality within seed
noise, not equal weights, is expected.

    python scripts/reference/hf_finetune_generator.py MODEL_DIR TRAIN.jsonl DEV.jsonl TEST.jsonl \
        [--epochs 3] [--batch-size 4] [--lr 2e-4] [--max-len 1024] [--seed 42] [--threads 2] \
        [--lora-rank 16] [--lora-alpha 32] [--lora-dropout 0.05] [--lora-targets q_proj,...] \
        [--full-finetune] [--patience 2] [--max-new-tokens 256]

Prints one JSON line: per-epoch train and dev loss, the best epoch, dev and test chrF / BLEU, and
seconds.
"""
import argparse
import json
import math
import re
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

ALL_TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def read_dialogs(path):
    out = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip():
            continue
        messages = json.loads(line)["messages"]
        if not messages or messages[-1]["role"] != "assistant":
            raise SystemExit(f"{path}:{n}: the last message is not the assistant's answer")
        out.append((messages[:-1], messages[-1]["content"]))
    return out


class Encoder:
    """Dialogs and targets to ids, as Finelab's ChatTokenizer::encode does it."""

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
        return prompt + target_ids, len(prompt)


def batch_of(items, pad_id):
    """Right-padded ids, attention mask, and labels (-100 off the targets)."""
    seq = max(len(ids) for ids, _ in items)
    ids = torch.full((len(items), seq), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), seq), dtype=torch.long)
    labels = torch.full((len(items), seq), -100, dtype=torch.long)
    for r, (row, start) in enumerate(items):
        ids[r, :len(row)] = torch.tensor(row)
        mask[r, :len(row)] = 1
        labels[r, max(start, 1):len(row)] = torch.tensor(row[max(start, 1):])
    return ids, mask, labels


def summed_nll(model, items, pad_id):
    """The summed loss of the target tokens of `items` and their number."""
    ids, mask, labels = batch_of(items, pad_id)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    gold = labels[:, 1:]
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), gold.reshape(-1), ignore_index=-100, reduction="sum")
    return nll, int((gold != -100).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("train")
    ap.add_argument("dev")
    ap.add_argument("test")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--max-len", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup-ratio", type=float, default=0.03)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--lora-rank", type=int, default=16)
    ap.add_argument("--lora-alpha", type=float, default=32.0)
    ap.add_argument("--lora-dropout", type=float, default=0.05)
    ap.add_argument("--lora-targets", default=ALL_TARGETS)
    ap.add_argument("--full-finetune", action="store_true")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, torch_dtype=torch.float32)
    eos_ids = {tokenizer.convert_tokens_to_ids(tokenizer.eos_token)}
    generation_eos = model.generation_config.eos_token_id
    eos_ids |= set(generation_eos if isinstance(generation_eos, list) else [generation_eos] if generation_eos is not None else [])
    eos_ids = sorted(eos_ids)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    max_len = min(args.max_len, model.config.max_position_embeddings)
    encoder = Encoder(tokenizer, eos_ids[0])
    splits = {name: read_dialogs(path) for name, path in (("train", args.train), ("dev", args.dev), ("test", args.test))}
    train = [encoder.encode(m, t, max_len) for m, t in splits["train"]]
    dev = [encoder.encode(m, t, max_len) for m, t in splits["dev"]] or train

    if not args.full_finetune:
        from peft import LoraConfig, get_peft_model
        lora = LoraConfig(r=args.lora_rank, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                          target_modules=args.lora_targets.split(","), bias="none", task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = ("bias", "norm")
    groups = [
        {"params": [p for n, p in trainable if not any(k in n for k in no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in trainable if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = steps_per_epoch * args.epochs
    sched = get_linear_schedule_with_warmup(opt, math.ceil(total * args.warmup_ratio), total)

    def dev_loss():
        model.eval()
        total_nll, n = 0.0, 0
        with torch.inference_mode():
            order = sorted(range(len(dev)), key=lambda i: len(dev[i][0]))
            for start in range(0, len(order), 8):
                nll, k = summed_nll(model, [dev[i] for i in order[start:start + 8]], pad_id)
                total_nll, n = total_nll + nll.item(), n + k
        return total_nll / max(n, 1)

    gen = torch.Generator().manual_seed(args.seed)
    best, best_state, best_epoch, epochs = math.inf, None, 0, []
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(train), generator=gen).tolist()
        loss_sum, n_tokens = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            nll, n = summed_nll(model, [train[j] for j in order[i:i + args.batch_size]], pad_id)
            (nll / max(n, 1)).backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            loss_sum, n_tokens = loss_sum + nll.item(), n_tokens + n
        loss = dev_loss()
        epochs.append({"epoch": epoch, "train_loss": loss_sum / max(n_tokens, 1), "dev_loss": loss, "seconds": time.perf_counter() - t0})
        if loss < best:
            best, best_epoch = loss, epoch
            best_state = {n: p.detach().clone() for n, p in trainable}
        if epoch - best_epoch >= args.patience:
            break
    with torch.no_grad():
        params = dict(trainable)
        for n, v in best_state.items():
            params[n].copy_(v)
    model.eval()

    def answers(dialogs):
        out = []
        with torch.inference_mode():
            for messages, _ in dialogs:
                prompt = torch.tensor([encoder.ids(encoder.render(messages, True))])
                ids = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                     max_new_tokens=args.max_new_tokens, eos_token_id=eos_ids, pad_token_id=pad_id)
                out.append(tokenizer.decode(ids[0, prompt.shape[1]:], skip_special_tokens=True))
        return out

    def scores(dialogs):
        import sacrebleu
        if not dialogs:
            return None
        outputs, refs = answers(dialogs), [t for _, t in dialogs]
        zh = any(CJK.search(r) for r in refs)
        return {
            "chrf": sacrebleu.corpus_chrf(outputs, [refs]).score,
            "bleu": sacrebleu.corpus_bleu(outputs, [refs], tokenize="zh" if zh else "13a").score,
            "exact_match": sum(o.strip() == r.strip() for o, r in zip(outputs, refs)) / len(refs),
            "n": len(refs),
            "examples": [{"output": o, "reference": r} for o, r in list(zip(outputs, refs))[:3]],
        }

    print(json.dumps({
        "impl": f"transformers + peft + torch {torch.__version__}",
        "tuning": "full" if args.full_finetune else f"lora r={args.lora_rank} alpha={args.lora_alpha}",
        "best_epoch": best_epoch, "epochs": epochs, "dev_loss": best,
        "dev": scores(splits["dev"]), "test": scores(splits["test"]),
        "n_train": len(train), "n_dev": len(splits["dev"]), "n_test": len(splits["test"]),
        "seconds": time.perf_counter() - started,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
