"""Checks a GGUF file Finelab wrote with the `gguf` package (llama.cpp's own Python reader and
dequantizer) against the Hugging Face folder it was made from.

    python check_gguf.py FILE.gguf MODEL_DIR [DECODED.safetensors]

- metadata: the architecture's hyperparameters equal config.json's; every token of tokenizer.json
  (vocabulary and added tokens) sits at its id, added special tokens are control tokens, the
  merges are tokenizer.json's in order, the eos id is tokenizer_config.json's eos token, and the
  chat template is tokenizer_config.json's;
- tensors: each one, dequantized by `gguf.quants.dequantize`, equals what Finelab decodes from the
  same bytes (DECODED.safetensors, by GGUF name, when given), and is within its block format's rounding of the
  folder's f32 weight (Llama's query and key rows interleaved per head, as llama.cpp expects).

Prints a JSON summary; exits 1 when anything differs.
"""

import json
import re
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import load_file

# The largest relative RMS error each block format may leave (8 bits: ~0.3 %; 4 bits: ~7 %).
RMS_BOUND = {"F32": 0.0, "Q8_0": 0.01, "Q6_K": 0.03, "Q5_0": 0.05, "Q4_K": 0.12}

LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
FIXED = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}


def hf_name(name):
    if name in FIXED:
        return FIXED[name]
    m = re.fullmatch(r"blk\.(\d+)\.(\w+)\.(weight|bias)", name)
    return f"model.layers.{m[1]}.{LAYER_NAMES[m[2]]}.{m[3]}"


def interleave(w, heads):
    """Llama's rotary pairs: each head's two halves of rows interleaved."""
    shape = w.shape
    return w.reshape(heads, 2, shape[0] // heads // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def main(path, model_dir, decoded_path=None):
    reader = GGUFReader(path)
    meta = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    config = json.load(open(f"{model_dir}/config.json"))
    tok = json.load(open(f"{model_dir}/tokenizer.json"))
    tok_config = json.load(open(f"{model_dir}/tokenizer_config.json"))
    problems = []

    def expect(key, want):
        got = meta.get(key)
        ok = got is not None and abs(got - want) <= 1e-6 * max(1.0, abs(want)) if isinstance(want, float) else got == want
        if not ok:
            problems.append(f"{key}: {str(got)[:80]!r}, expected {str(want)[:80]!r}")

    arch = meta["general.architecture"]
    expect("general.architecture", config["model_type"])
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    expect(f"{arch}.block_count", config["num_hidden_layers"])
    expect(f"{arch}.embedding_length", config["hidden_size"])
    expect(f"{arch}.feed_forward_length", config["intermediate_size"])
    expect(f"{arch}.attention.head_count", heads)
    expect(f"{arch}.attention.head_count_kv", kv_heads)
    expect(f"{arch}.attention.key_length", head_dim)
    expect(f"{arch}.attention.layer_norm_rms_epsilon", float(config["rms_norm_eps"]))
    expect(f"{arch}.rope.freq_base", float(config.get("rope_theta", 10000.0)))

    tokens = meta["tokenizer.ggml.tokens"]
    types = meta["tokenizer.ggml.token_type"]
    expect("tokenizer.ggml.model", "gpt2")
    if len(tokens) != config["vocab_size"] or len(types) != len(tokens):
        problems.append(f"{len(tokens)} tokens and {len(types)} types for a vocabulary of {config['vocab_size']}")
    vocab = dict(tok["model"]["vocab"])
    for added in tok["added_tokens"]:
        vocab[added["content"]] = added["id"]
        if added["special"] and types[added["id"]] != 3:
            problems.append(f"special token {added['content']!r} has type {types[added['id']]}, not 3 (control)")
    wrong = [(text, i) for text, i in vocab.items() if i >= len(tokens) or tokens[i] != text]
    if wrong:
        problems.append(f"{len(wrong)} tokens not at their ids, first {wrong[:3]}")
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    if meta["tokenizer.ggml.merges"] != merges:
        problems.append("the merges differ from tokenizer.json's")
    eos = tok_config["eos_token"]
    eos = eos["content"] if isinstance(eos, dict) else eos
    expect("tokenizer.ggml.eos_token_id", vocab[eos])
    expect("tokenizer.chat_template", tok_config["chat_template"])

    decoded = load_file(decoded_path) if decoded_path else None
    weights = load_file(f"{model_dir}/model.safetensors")
    kinds = {}
    for t in reader.tensors:
        kind = t.tensor_type.name
        kinds[kind] = kinds.get(kind, 0) + 1
        shape = [int(n) for n in reversed(t.shape)]
        values = dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
        if decoded is not None and (t.name not in decoded or not np.allclose(values, decoded[t.name], rtol=1e-6, atol=1e-7)):
            problems.append(f"{t.name} ({kind}): gguf's dequantized values differ from Finelab's")
            continue
        name = hf_name(t.name)
        w = weights[name].astype(np.float32)
        if arch == "llama" and ".q_proj." in name:
            w = interleave(w, heads)
        elif arch == "llama" and ".k_proj." in name:
            w = interleave(w, kv_heads)
        if w.shape != values.shape:
            problems.append(f"{t.name}: shape {values.shape}, the folder's {name} is {w.shape}")
            continue
        rms = float(np.sqrt(np.mean((values - w) ** 2)) / max(np.sqrt(np.mean(w**2)), 1e-12))
        if rms > RMS_BOUND.get(kind, 0.0):
            problems.append(f"{t.name} ({kind}): relative RMS error {rms:.4f} beyond {RMS_BOUND.get(kind)}")
    print(json.dumps({"tensors": len(reader.tensors), "kinds": kinds, "tokens": len(tokens), "problems": problems}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(*sys.argv[1:4])
