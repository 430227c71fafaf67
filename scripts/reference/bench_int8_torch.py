"""PyTorch's int8 beside Finelab's: the same exported classifier, f32 and dynamically quantized
(`torch.ao.quantization.quantize_dynamic` on every nn.Linear, int8 weights per tensor, activations
quantized per batch, the x86/fbgemm kernels), timed on the same texts the way `finelab optimize
--speed` times its models: tokenization included, sorted by length, batches of 32, padded per
batch, on N threads.

Usage: bench_int8_torch.py MODEL_DIR REVIEWS.jsonl [N_TEXTS=256] [THREADS=2] [REPEATS=3]
REVIEWS.jsonl is bench-optimize.sh's file: its first N_TEXTS test rows in file order (the order
the project imported them, which `--speed` takes). Prints one JSON object.
"""

import json
import sys
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main():
    model_dir, reviews = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    torch.set_num_threads(threads)
    rows = [json.loads(line) for line in open(reviews, encoding="utf-8")]
    texts = [r["text"] for r in rows if r.get("split") == "test"][:n]
    meta = json.load(open(f"{model_dir}/finelab-model.json", encoding="utf-8"))
    max_len = meta["max_len"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    f32 = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    int8 = torch.ao.quantization.quantize_dynamic(f32, {torch.nn.Linear}, dtype=torch.qint8)

    def predict(model):
        lengths = [len(tokenizer(t, truncation=True, max_length=max_len)["input_ids"]) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        labels = [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), 32):
                chunk = order[start : start + 32]
                batch = tokenizer(
                    [texts[i] for i in chunk], truncation=True, max_length=max_len, padding=True, return_tensors="pt"
                )
                out = model(**batch).logits.argmax(-1).tolist()
                for i, label in zip(chunk, out):
                    labels[i] = label
        return labels

    result = {"n_texts": len(texts), "threads": threads, "torch": torch.__version__}
    predictions = {}
    for name, model in (("f32", f32), ("int8", int8)):
        predict(model)  # warm-up
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            predictions[name] = predict(model)
            rates.append(len(texts) / (time.perf_counter() - started))
        result[f"{name}_texts_per_sec"] = rates
    same = sum(a == b for a, b in zip(predictions["f32"], predictions["int8"]))
    result["int8_agreement_with_f32"] = same / len(texts)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
