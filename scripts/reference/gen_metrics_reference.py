#!/usr/bin/env python3
"""Reference numbers for finelab-train's generation scores (crates/finelab-train/src/gen_metrics.rs).

Reads a JSON list of cases {"outputs": [...], "references": [...], "lang": "en" | "zh"} (written by
crates/finelab-train/tests/it/metrics_reference/generation.rs) from the file named on the command line, or from
stdin, and prints, for each case:

- "chrf": sacrebleu.corpus_chrf(outputs, [references]).score (chrF2, the defaults);
- "bleu": sacrebleu.corpus_bleu(outputs, [references], tokenize="13a" | "zh").score (the defaults:
  smoothing "exp", no effective order), and "mean_output_len": its sys_len / n;
- "rouge_l": the mean over records of rouge-score's RougeScorer(["rougeL"], use_stemmer=False)
  .score(reference, output)["rougeL"].fmeasure; for "zh" the scorer's tokenizer yields the
  non-whitespace characters;
- "exact_match": the share of outputs equal to their reference after str.strip();
- "records": per record {"sentence_chrf", "sentence_bleu" (sacrebleu.sentence_bleu, the defaults:
  smoothing "exp", effective order), "rouge_l", "exact"}.

Usage: gen_metrics_reference.py [CASES.json] > SCORES.json
"""
import json
import sys

try:
    import sacrebleu
    from rouge_score import rouge_scorer
except ImportError as error:  # the Rust test turns this exit code into a failure with this text
    sys.stderr.write(
        f"gen_metrics_reference.py needs sacrebleu and rouge-score ({error}).\n"
        "Install them: python3 -m venv .venv && .venv/bin/pip install sacrebleu rouge-score\n"
        "or point FINELAB_PYTHON at an interpreter that has them.\n"
    )
    sys.exit(3)


class CharTokenizer:
    """Chinese for ROUGE-L: every non-whitespace character is a token."""

    def tokenize(self, text):
        return [c for c in text if not c.isspace()]


def score(case):
    outputs, references, lang = case["outputs"], case["references"], case["lang"]
    tokenize = {"en": "13a", "zh": "zh"}[lang]
    tokenizer = CharTokenizer() if lang == "zh" else None
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=tokenizer)
    records = []
    for output, reference in zip(outputs, references):
        records.append({
            "sentence_chrf": sacrebleu.sentence_chrf(output, [reference]).score,
            "sentence_bleu": sacrebleu.sentence_bleu(output, [reference], tokenize=tokenize).score,
            "rouge_l": scorer.score(reference, output)["rougeL"].fmeasure,
            "exact": output.strip() == reference.strip(),
        })
    n = len(outputs)
    bleu = sacrebleu.corpus_bleu(outputs, [references], tokenize=tokenize)
    return {
        "chrf": sacrebleu.corpus_chrf(outputs, [references]).score,
        "bleu": bleu.score,
        "mean_output_len": bleu.sys_len / n,
        "rouge_l": sum(r["rouge_l"] for r in records) / n,
        "exact_match": sum(r["exact"] for r in records) / n,
        "n": n,
        "records": records,
    }


def main():
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as f:
            cases = json.load(f)
    else:
        cases = json.load(sys.stdin)
    json.dump([score(case) for case in cases], sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
