#!/usr/bin/env python3
"""PyTorch + transformers side of scripts/bench-transformer.sh: the same model folder, batch, sequence
length, thread count and step as crates/finelab-train/examples/bench_transformer.rs (forward with
dropout, cross-entropy, backward, clip_grad_norm_(1.0), AdamW), on random token ids of exactly
SEQ tokens. Prints one JSON line.

    python scripts/reference/bench_transformer_torch.py MODEL_DIR [BATCH] [SEQ] [STEPS] [INFER_BATCH] [THREADS] [DEVICE] [DTYPE]

DEVICE is cpu (default) or cuda; DTYPE f32 (default) or bf16 (f32 weights and optimizer, forward
under torch.autocast in bfloat16, as mixed-precision training is usually run). A MODEL_DIR without
weights (config.json only) gives a randomly initialized model of that shape, for speed alone.
The record names the CPU and the GFLOP/s of one feed-forward-shaped f32 matrix product.
"""
import json
import os
import resource
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification


def main():
    model_dir = sys.argv[1]
    arg = lambda i, d: int(sys.argv[i]) if len(sys.argv) > i else d
    batch, seq, steps, infer_batch, threads = arg(2, 16), arg(3, 64), arg(4, 10), arg(5, 32), arg(6, 2)
    device = sys.argv[7] if len(sys.argv) > 7 else "cpu"
    dtype = sys.argv[8] if len(sys.argv) > 8 else "f32"
    print(json.dumps(bench(model_dir, batch, seq, steps, infer_batch, threads, device, dtype)))


def cpu_model():
    """The processor's name as the kernel reports it."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def matmul_gflops(device, m, k, n, sync):
    """GFLOP/s of one f32 product of the feed-forward layer's shape: the best of five."""
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    with torch.inference_mode():
        a @ b
        sync()
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            a @ b
            sync()
            best = min(best, time.perf_counter() - t0)
    return 2.0 * m * k * n / best / 1e9


def load_model(model_dir, device):
    """The model of MODEL_DIR with a fresh 2-class head; random weights if the folder has none."""
    has_weights = any(os.path.exists(os.path.join(model_dir, f)) for f in ("model.safetensors", "pytorch_model.bin"))
    if has_weights:
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    else:
        model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(model_dir, num_labels=2))
    return model.to(device), has_weights


def bench(model_dir, batch, seq, steps, infer_batch, threads, device="cpu", dtype="f32"):
    """One measurement; returns the record that main() prints."""
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    model, has_weights = load_model(model_dir, device)
    autocast = lambda: torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=dtype == "bf16")
    vocab = model.config.vocab_size
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=5e-5)
    cls, sep = 101, 102

    def random_batch(n):
        ids = torch.randint(1000, vocab, (n, seq))
        ids[:, 0], ids[:, -1] = cls, sep
        return ids.to(device), torch.ones(n, seq, dtype=torch.long, device=device)

    sync = (lambda: torch.cuda.synchronize()) if device.startswith("cuda") else (lambda: None)
    model.train()
    t_fwd = t_bwd = t_opt = 0.0
    warmup = 2
    first_loss = loss_value = None
    for step in range(warmup + steps):
        ids, mask = random_batch(batch)
        labels = torch.randint(0, 2, (batch,), device=device)
        sync(); t0 = time.perf_counter()
        with autocast():
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss_value = loss.item()
        if first_loss is None:
            first_loss = loss_value
        t1 = time.perf_counter()
        loss.backward()
        sync(); t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(); t3 = time.perf_counter()
        if step >= warmup:
            t_fwd += t1 - t0
            t_bwd += t2 - t1
            t_opt += t3 - t2
    train_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    model.eval()
    infer_steps = max(steps, 3)
    t_inf = 0.0
    with torch.inference_mode():
        for step in range(1 + infer_steps):
            ids, mask = random_batch(infer_batch)
            sync(); t0 = time.perf_counter()
            with autocast():
                model(input_ids=ids, attention_mask=mask).logits.float().cpu()
            if step >= 1:
                t_inf += time.perf_counter() - t0
    step_s = (t_fwd + t_bwd + t_opt) / steps
    shape = [batch * seq, model.config.hidden_size, model.config.intermediate_size]
    return {
        "impl": f"pytorch {torch.__version__} + transformers", "threads": torch.get_num_threads(), "device": device,
        "cpu": cpu_model(), "matmul_shape": shape, "matmul_gflops": matmul_gflops(device, *shape, sync),
        "dtype": dtype, "weights": "checkpoint" if has_weights else "random", "first_loss": first_loss, "last_loss": loss_value,
        "batch": batch, "seq": seq, "steps": steps, "n_weights": sum(p.numel() for p in model.parameters()),
        "forward_ms": 1e3 * t_fwd / steps, "backward_ms": 1e3 * t_bwd / steps, "optimizer_ms": 1e3 * t_opt / steps,
        "train_samples_per_s": batch / step_s, "infer_batch": infer_batch, "infer_samples_per_s": infer_batch * infer_steps / t_inf,
        "peak_rss_mb_train": train_rss,
    }


if __name__ == "__main__":
    main()
