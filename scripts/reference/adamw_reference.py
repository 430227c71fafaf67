#!/usr/bin/env python3
"""Reference numbers for Finelab's AdamW, learning-rate schedule and gradient clipping.

Runs PyTorch's own `torch.optim.AdamW`, `transformers.get_linear_schedule_with_warmup` (or, when
transformers is missing, torch's LambdaLR with the same documented lambda) and
`torch.nn.utils.clip_grad_norm_` on three small parameters with fixed gradients for a few steps,
and prints the parameters after every step as JSON. The output is kept beside the test as
crates/finelab-train/tests/data/adamw_reference.json; tests/it/transformer_optim.rs replays the same
steps in Rust and compares.

Usage: python scripts/reference/adamw_reference.py > crates/finelab-train/tests/data/adamw_reference.json
"""
import json

import torch

torch.set_default_dtype(torch.float32)

LR, BETAS, EPS, WD = 1e-2, (0.9, 0.999), 1e-8, 0.1
TOTAL, WARMUP, MAX_NORM = 6, 2, 1.0


def linear_lambda(step):
    # transformers.get_linear_schedule_with_warmup's lr_lambda, as documented.
    if step < WARMUP:
        return float(step) / float(max(1, WARMUP))
    return max(0.0, float(TOTAL - step) / float(max(1, TOTAL - WARMUP)))


def grad_for(step, shape, salt):
    # Deterministic, varied gradients: sin of an index-dependent phase.
    n = 1
    for d in shape:
        n *= d
    x = torch.arange(n, dtype=torch.float64)
    return (torch.sin(x * 0.7 + step * 1.3 + salt) * (1.0 + 0.5 * step)).reshape(shape).float()


def main():
    shapes = {"w": (3, 4), "b": (4,), "e": (5, 2)}
    decay = {"w": True, "b": False, "e": True}
    init = {name: torch.linspace(-1.0, 1.0, steps=int(torch.tensor(s).prod())).reshape(s) for name, s in shapes.items()}
    params = {name: torch.nn.Parameter(v.clone()) for name, v in init.items()}
    groups = [
        {"params": [params[n] for n in shapes if decay[n]], "weight_decay": WD},
        {"params": [params[n] for n in shapes if not decay[n]], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS, foreach=False)
    try:
        from transformers import get_linear_schedule_with_warmup

        sched = get_linear_schedule_with_warmup(opt, WARMUP, TOTAL)
        schedule_source = "transformers.get_linear_schedule_with_warmup"
    except Exception:  # noqa: BLE001
        sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_lambda)
        schedule_source = "torch LambdaLR with the documented linear warm-up/decay lambda"
    steps = []
    for step in range(TOTAL):
        for salt, name in enumerate(shapes):
            params[name].grad = grad_for(step, shapes[name], salt)
        grads = {n: params[n].grad.clone() for n in shapes}
        norm = torch.nn.utils.clip_grad_norm_([params[n] for n in shapes], MAX_NORM)
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        steps.append({
            "lr": lr,
            "grad_norm": float(norm),
            "grads": {n: grads[n].flatten().tolist() for n in shapes},
            "params": {n: params[n].detach().flatten().tolist() for n in shapes},
        })
    print(json.dumps({
        "source": f"torch {torch.__version__}, torch.optim.AdamW(foreach=False), {schedule_source}, clip_grad_norm_",
        "lr": LR, "betas": BETAS, "eps": EPS, "weight_decay": WD,
        "total_steps": TOTAL, "warmup_steps": WARMUP, "max_grad_norm": MAX_NORM,
        "shapes": {n: list(s) for n, s in shapes.items()},
        "decay": decay,
        "init": {n: v.flatten().tolist() for n, v in init.items()},
        "steps": steps,
    }, indent=1))


if __name__ == "__main__":
    main()
