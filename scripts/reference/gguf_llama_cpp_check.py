"""llama.cpp (through llama-cpp-python) against Finelab on the same GGUF export: the same prompt
tokens and the same greedy answers.

    python gguf_llama_cpp_check.py FILE.gguf MODEL_DIR PROMPTS.jsonl FINELAB_URL MAX_TOKENS

- PROMPTS.jsonl: one OpenAI-format dialog a line (`{"messages": [...]}`);
- FINELAB_URL: `finelab serve-model MODEL_DIR` serving the folder the file was exported into (its
  finelab-model.json names the quantization, so Finelab generates with the same quantized weights).

Each dialog is rendered by llama-cpp-python from the chat template in the file's metadata and
tokenized by llama.cpp's tokenizer from the file's vocabulary; its tokens must equal those of
`tokenizers` reading MODEL_DIR/tokenizer.json on the same text. Then both answer greedily
(temperature 0, no penalties; llama.cpp's key/value cache in f32, as Finelab's) until an
end-of-generation token or MAX_TOKENS, llama.cpp's tokens decoded by the folder's tokenizer as
Finelab decodes its own, and the answers are compared character for character. Prints a JSON summary
and exits 1 when anything differs.
"""

import json
import sys
import urllib.request

import llama_cpp
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from tokenizers import Tokenizer


def finelab_answer(url, messages, max_tokens):
    body = json.dumps({"model": "m", "messages": messages, "temperature": 0, "max_tokens": max_tokens}).encode()
    req = urllib.request.Request(f"{url}/v1/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)["choices"][0]["message"]["content"]


def main(path, model_dir, prompts_path, url, max_tokens):
    max_tokens = int(max_tokens)
    # The key/value cache in f32 as Finelab keeps it (llama.cpp's default is f16).
    llm = Llama(model_path=path, n_ctx=512, n_threads=2, seed=0, type_k=0, type_v=0, verbose=False)
    meta = llm.metadata
    template = meta["tokenizer.chat_template"]
    eos = llm._model.token_get_text(llm.token_eos())
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")
    hf = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    dialogs = [json.loads(line)["messages"] for line in open(prompts_path, encoding="utf-8") if line.strip()]
    same_tokens = same_answers = 0
    differences = []
    for messages in dialogs:
        prompt = formatter(messages=messages).prompt
        ours = hf.encode(prompt, add_special_tokens=False).ids
        theirs = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        same_tokens += ours == theirs
        if ours != theirs and len(differences) < 5:
            differences.append({"prompt": prompt, "tokenizers": ours, "llama.cpp": theirs})
        # llama.cpp's greedy tokens, until one of its end-of-generation tokens; their text by
        # the folder's own decoder (special tokens left out, an incomplete UTF-8 sequence shown
        # as U+FFFD), as Finelab writes its answer.
        ids = []
        for t in llm.generate(theirs, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, t) or len(ids) >= max_tokens:
                break
            ids.append(t)
        answer = hf.decode(ids, skip_special_tokens=True)
        mine = finelab_answer(url, messages, max_tokens)
        same_answers += answer == mine
        if answer != mine and len(differences) < 5:
            differences.append({"messages": messages, "llama.cpp": answer, "finelab": mine})
    n = len(dialogs)
    print(
        json.dumps(
            {
                "file": path,
                "arch": meta.get("general.architecture"),
                "file_type": meta.get("general.file_type"),
                "prompts": n,
                "same_tokens": same_tokens,
                "same_answers": same_answers,
                "differences": differences,
            },
            ensure_ascii=False,
        )
    )
    sys.exit(0 if same_tokens == n and same_answers == n else 1)


if __name__ == "__main__":
    main(*sys.argv[1:6])
