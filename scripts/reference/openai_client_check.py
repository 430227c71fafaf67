"""The official `openai` Python client against `finelab serve-model`.

Usage: openai_client_check.py BASE_URL MODEL [--api-key KEY] [--max-tokens N]

Runs chat completions (not streamed, then streamed), a completion and the model list with the
client exactly as a user would, greedily (temperature 0), and prints one JSON object of what came
back; crates/finelab-deploy/tests/serve.rs compares it with Finelab's own generation.
"""

import argparse
import json

import openai

MESSAGES = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "你好, what is the weather like today?"},
]
PROMPT = "The weather today is"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("model")
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--max-tokens", type=int, default=24)
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=120)

    chat = client.chat.completions.create(
        model=args.model, messages=MESSAGES, max_tokens=args.max_tokens, temperature=0
    )
    chunks = []
    finish = None
    roles = []
    for chunk in client.chat.completions.create(
        model=args.model, messages=MESSAGES, max_tokens=args.max_tokens, temperature=0, stream=True
    ):
        assert chunk.object == "chat.completion.chunk", chunk
        for choice in chunk.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            if choice.delta.content:
                chunks.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    completion = client.completions.create(
        model=args.model, prompt=PROMPT, max_tokens=args.max_tokens, temperature=0
    )
    models = client.models.list()

    print(json.dumps({
        "openai_version": openai.__version__,
        "messages": MESSAGES,
        "prompt": PROMPT,
        "max_tokens": args.max_tokens,
        "chat": {
            "object": chat.object,
            "model": chat.model,
            "role": chat.choices[0].message.role,
            "content": chat.choices[0].message.content,
            "finish_reason": chat.choices[0].finish_reason,
            "usage": chat.usage.model_dump(),
        },
        "stream": {"chunks": chunks, "roles": roles, "finish_reason": finish},
        "completion": {
            "object": completion.object,
            "text": completion.choices[0].text,
            "finish_reason": completion.choices[0].finish_reason,
            "usage": completion.usage.model_dump(),
        },
        "models": [{"id": m.id, "object": m.object, "owned_by": m.owned_by} for m in models.data],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
