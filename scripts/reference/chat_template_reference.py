#!/usr/bin/env python3
"""Renders the chat-template cases of crates/finelab-train/tests/data/chat_templates.json with
`transformers`' own Jinja2 set-up (the one apply_chat_template uses: trim_blocks, lstrip_blocks,
loop controls, raise_exception, tojson with ensure_ascii=False) and writes the expected text of
each case into the file, so that tests/it/generator.rs checks minijinja's rendering against it.

    python scripts/reference/chat_template_reference.py

The templates exercise what real ones use: Qwen3's reverse scan for the last user turn with a
namespace, Python string methods (split, strip, lstrip, rstrip, startswith, endswith), `is
string`, tojson, loop.index0 and neighbours, raise_exception, bos/eos tokens, whitespace control.
Needs transformers (pip install transformers).
"""
import json
import os

from transformers.utils.chat_template_utils import _compile_jinja_template

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "crates", "finelab-train", "tests", "data", "chat_templates.json")

# A Qwen3-style template written for this test: thinking blocks kept only after the last user
# turn, tool calls as JSON, system turn first.
THINKING = """{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0].content.strip() + '<|im_end|>\\n' }}
{%- endif %}
{%- set ns = namespace(last_user=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if message.role == 'user' and ns.last_user == messages|length - 1 and not message.content.startswith('<tool_response>') %}
        {%- set ns.last_user = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- set content = message.content if message.content is string else '' %}
    {%- if message.role == 'user' %}
        {{- '<|im_start|>user\\n' + content + '<|im_end|>\\n' }}
    {%- elif message.role == 'assistant' %}
        {%- set reasoning = '' %}
        {%- if '</think>' in content %}
            {%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
        {%- endif %}
        {%- if loop.index0 > ns.last_user and reasoning %}
            {{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
        {%- else %}
            {{- '<|im_start|>assistant\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for call in message.tool_calls %}
                {{- '\\n<tool_call>\\n' + call | tojson + '\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == 'system' and not loop.first %}
        {{- raise_exception('a system turn may only come first') }}
    {%- endif %}
    {%- if loop.last and message.role == 'user' and content.endswith('?') %}
        {#- a comment the output never shows #}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}"""

# A Llama-2-style template: bos/eos tokens, [INST] turns, role alternation enforced.
LLAMA = """{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system = false %}{% endif %}
{% for message in loop_messages %}
{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}
{% if loop.index0 == 0 and system != false %}{% set content = '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}
{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}
{% endfor %}"""

# SmolLM2 / ChatML with a default system turn, written with loop.first.
CHATML = """{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"""

DIALOG = [
    {"role": "system", "content": "  You are terse.  "},
    {"role": "user", "content": "今天天气怎么样？"},
    {"role": "assistant", "content": "<think>\nLook outside.\n</think>\n\n晴天 ☀️"},
    {"role": "user", "content": "and tomorrow?"},
]


def cases():
    tool_turn = {
        "role": "assistant",
        "content": "<think>\ncall it\n</think>\n\nchecking",
        # Keys in alphabetical order: Finelab's messages are serde_json values, whose maps are sorted.
        "tool_calls": [{"arguments": {"city": "北京", "days": 2, "note": "a<b & \"c\""}, "name": "weather"}],
    }
    return [
        {"name": "thinking", "template": THINKING, "messages": DIALOG, "add_generation_prompt": True},
        {"name": "thinking-no-prompt", "template": THINKING, "messages": DIALOG[:3], "add_generation_prompt": False},
        {
            "name": "thinking-after-last-user",
            "template": THINKING,
            "messages": DIALOG + [tool_turn],
            "add_generation_prompt": False,
        },
        {
            "name": "thinking-system-late",
            "template": THINKING,
            "messages": DIALOG[1:2] + DIALOG[:1],
            "add_generation_prompt": False,
        },
        {"name": "llama", "template": LLAMA, "messages": DIALOG[:3], "add_generation_prompt": False},
        {"name": "llama-alternation", "template": LLAMA, "messages": [DIALOG[1], DIALOG[1]], "add_generation_prompt": False},
        {"name": "chatml", "template": CHATML, "messages": DIALOG[1:], "add_generation_prompt": True},
    ]


def main():
    out = []
    for case in cases():
        template = _compile_jinja_template(case["template"])
        try:
            expected = template.render(
                messages=case["messages"],
                add_generation_prompt=case["add_generation_prompt"],
                bos_token="<s>",
                eos_token="</s>",
            )
            case = {**case, "expected": expected}
        except Exception as e:  # raise_exception
            case = {**case, "error": str(e)}
        out.append(case)
    with open(DATA, "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "cases": out}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(out)} cases to {os.path.normpath(DATA)}")


if __name__ == "__main__":
    main()
