"""The distillation loss as PyTorch defines it: `F.cross_entropy(logits, probs)` with probability
targets (mean over the batch), and its gradient with respect to the logits, on seeded cases.
Writes crates/finelab-train/tests/data/distill_loss_reference.json, which
`transformer::distill`'s test reads.

Usage: .venv/bin/python scripts/reference/distill_loss_reference.py
"""

import json
import pathlib

import torch
import torch.nn.functional as F

torch.manual_seed(7)
cases = []
for n, c in [(1, 2), (4, 3), (8, 5), (3, 2)]:
    logits = (torch.randn(n, c) * 3).requires_grad_()
    probs = torch.softmax(torch.randn(n, c) * 2, dim=-1)
    loss = F.cross_entropy(logits, probs)
    loss.backward()
    cases.append(
        {
            "logits": logits.detach().tolist(),
            "targets": probs.tolist(),
            "loss": loss.item(),
            "grad": logits.grad.tolist(),
        }
    )
out = pathlib.Path(__file__).resolve().parents[2] / "crates/finelab-train/tests/data/distill_loss_reference.json"
out.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1) + "\n")
print(f"wrote {out}")
