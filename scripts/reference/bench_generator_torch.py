#!/usr/bin/env python3
"""PyTorch + transformers + peft side of scripts/bench-generator.sh: the same shape and step as
crates/finelab-train/examples/bench_generator.rs. A Qwen2.5-0.5B-shaped Qwen2 decoder with random
weights (width 896, 14 query / 2 key-value heads, intermediate 4864, vocabulary 151,936 tied to the
output layer) with LAYERS layers, peft LoRA r=16, alpha 32, dropout 0.05 on the 7 projections,
batches of BATCH random sequences of SEQ tokens whose second half is the target (labels -100 on the
first half), forward, loss, backward, clip_grad_norm_(1.0), AdamW. The first step is a warm-up and
is left out of the mean, as in the Rust example. Then `generate` greedily adds 32 tokens (KV cache)
to each of BATCH prompts of SEQ/2 tokens. Prints one JSON line.

    python scripts/reference/bench_generator_torch.py [LAYERS] [BATCH] [SEQ] [STEPS] [THREADS]
"""
import json
import resource
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import Qwen2Config, Qwen2ForCausalLM


def main():
    arg = lambda i, d: int(sys.argv[i]) if len(sys.argv) > i else d
    layers, batch, seq, steps, threads = arg(1, 2), arg(2, 2), arg(3, 256), arg(4, 3), arg(5, 2)
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    vocab = 151_936
    config = Qwen2Config(
        vocab_size=vocab, hidden_size=896, intermediate_size=4864, num_hidden_layers=layers,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
        rope_theta=1_000_000.0, tie_word_embeddings=True, hidden_act="silu", use_cache=False,
    )
    model = Qwen2ForCausalLM(config).float()
    lora = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    model = get_peft_model(model, lora)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.0)
    ids = torch.randint(0, vocab, (batch, seq))
    labels = ids.clone()
    labels[:, : seq // 2] = -100
    model.train()
    step_secs = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step_secs.append(time.perf_counter() - t0)
    train_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    model.eval()
    prompts = ids[:, : seq // 2]
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids=prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=32, min_new_tokens=32,
            do_sample=False, use_cache=True, pad_token_id=0,
        )
    gen_secs = time.perf_counter() - t0
    n_new = (out.shape[1] - prompts.shape[1]) * batch
    mean_step = sum(step_secs[1:]) / max(len(step_secs) - 1, 1)
    print(json.dumps({
        "impl": f"pytorch {torch.__version__} + peft", "threads": torch.get_num_threads(),
        "layers": layers, "batch": batch, "seq": seq, "steps": steps, "step_secs": step_secs,
        "train_tokens_per_sec": batch * seq / mean_step, "generate_secs": gen_secs,
        "generated_tokens_per_sec": n_new / gen_secs, "peak_rss_mb_train": train_rss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
