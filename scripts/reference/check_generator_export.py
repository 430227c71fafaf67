#!/usr/bin/env python3
"""Checks that the generator family's exports load unchanged in Hugging Face `transformers` and
`peft` and give the same prompts, logits and greedy answers as Finelab.

    cargo run --release -p finelab-train --example generator_export OUT_DIR
    python scripts/reference/check_generator_export.py OUT_DIR [--tol 1e-4]

For each OUT_DIR/<arch>/ the example wrote (base/, run/ with the PEFT adapter, merged/, and
reference.json with Finelab's values), this script:
  - renders every dialog with the run folder's tokenizer and chat template (AutoTokenizer,
    apply_chat_template with add_generation_prompt) and compares the ids with Finelab's exactly;
  - loads base/ with AutoModelForCausalLM and the adapter with PeftModel.from_pretrained(run/),
    and compares the logits of every prompt position with Finelab's (absolute --tol);
  - loads merged/ with AutoModelForCausalLM alone and compares its logits the same way;
  - decodes greedily (generate, do_sample=False) with the merged model and the PEFT model and
    compares the new ids, up to the first eos, with Finelab's.
Exits 1 on a mismatch. Needs torch, transformers and peft (pip install torch transformers peft).
"""
import argparse
import json
import os
import sys


def prompt_ids(tokenizer, messages):
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if hasattr(out, "keys") and "input_ids" in out:
        out = out["input_ids"]
    return list(out)


def new_ids(model, ids, max_new_tokens, eos_ids):
    import torch

    input_ids = torch.tensor([ids])
    out = model.generate(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=eos_ids,
        pad_token_id=eos_ids[0],
    )[0][len(ids):].tolist()
    for i, t in enumerate(out):
        if t in eos_ids:
            return out[:i]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_grad_enabled(False)
    failures = 0
    for arch in sorted(os.listdir(args.out_dir)):
        root = os.path.join(args.out_dir, arch)
        if not os.path.isfile(os.path.join(root, "reference.json")):
            continue
        ref = json.load(open(os.path.join(root, "reference.json")))
        run, base, merged = (os.path.join(root, d) for d in ("run", "base", "merged"))
        tokenizer = AutoTokenizer.from_pretrained(run)
        generation = json.load(open(os.path.join(base, "generation_config.json")))
        eos = generation["eos_token_id"]
        eos_ids = eos if isinstance(eos, list) else [eos]
        peft_model = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), run
        ).eval()
        merged_model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
        for i, case in enumerate(ref["cases"]):
            where = f"{arch} case {i}"
            ids = prompt_ids(tokenizer, case["messages"])
            if ids != case["prompt_ids"]:
                print(f"{where}: prompt ids differ\n  transformers {ids}\n  finelab      {case['prompt_ids']}")
                failures += 1
            ours = torch.tensor(case["logits"])
            input_ids = torch.tensor([case["prompt_ids"]])
            for name, model in (("peft", peft_model), ("merged", merged_model)):
                theirs = model(input_ids=input_ids).logits[0]
                diff = (theirs - ours).abs().max().item()
                status = "ok" if diff <= args.tol else "MISMATCH"
                print(f"{where}: {name} logits max |diff| {diff:.2e} {status}")
                failures += diff > args.tol
                got = new_ids(model, case["prompt_ids"], case["max_new_tokens"], eos_ids)
                if got != case["greedy_ids"]:
                    print(f"{where}: {name} greedy ids differ\n  transformers {got}\n  finelab      {case['greedy_ids']}")
                    failures += 1
            print(f"{where}: greedy {tokenizer.decode(case['greedy_ids'])!r}")
    if failures:
        print(f"{failures} mismatch(es)")
        sys.exit(1)
    print("all exports match")


if __name__ == "__main__":
    main()
