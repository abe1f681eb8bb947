#!/usr/bin/env python3
"""Record transformers' log-probabilities of given translations (teacher forcing) for xlate's scoring tests.

Run from the repository root with the pinned versions of Fixtures/requirements.txt::

    python Fixtures/generate_scores.py

Writes ``Fixtures/bundled/scores.json``: for each bundled model (``../shared/models/xlate-{en-de,de-en}``),
sentence pairs from ``../shared/eval/tatoeba-test`` (the human reference as the target) plus a few extra targets
(empty, an unknown character, a special token written in the text), with

* ``input_ids`` = ``tokenizer(source).input_ids`` and ``labels`` = ``tokenizer(text_target=target).input_ids``
  (target SentencePiece model and vocabulary, ``</s>`` appended);
* ``token_logprobs``: ``log_softmax(model(input_ids=..., labels=...).logits)`` at each label, in float32 (the
  model shifts the labels right behind ``decoder_start_token_id`` itself, as in training);
* ``sum`` of those, and ``loss`` (transformers' mean cross-entropy = -sum / len(labels)).

float32, eager attention, CPU, one thread: reruns give the same bytes.
"""

import os
import sys

import torch
import transformers
from transformers import MarianMTModel, MarianTokenizer

from generate import FORMAT, GENERATOR, HERE, PINNED, SHARED, TORCH_VERSION, write_json

PAIRS_PER_DIRECTION = 8
# Targets that exercise the tokenizer's edges, paired with the first source.
EXTRA_TARGETS = {
    "de": ["", "Ich mag ☃ Tee.", "Hallo </s> Welt"],
    "en": ["", "I like ☃ tea.", "Hello </s> world"],
}


def pairs(src, tgt):
    """The first tatoeba pairs of 3–15 source words, in file order."""
    def lines(lang):
        with open(os.path.join(SHARED, "eval", f"tatoeba-test.{lang}"), encoding="utf-8") as f:
            return [l.rstrip("\n") for l in f]
    picked = []
    for source, target in zip(lines(src), lines(tgt)):
        if 3 <= len(source.split()) <= 15 and target.strip() and source not in (p[0] for p in picked):
            picked.append((source, target))
        if len(picked) == PAIRS_PER_DIRECTION:
            break
    return picked + [(picked[0][0], extra) for extra in EXTRA_TARGETS[tgt]]


def make(src, tgt):
    path = os.path.join(SHARED, "models", f"xlate-{src}-{tgt}")
    tok = MarianTokenizer.from_pretrained(path)
    model = MarianMTModel.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()
    cases = []
    for source, target in pairs(src, tgt):
        input_ids = tok(source).input_ids
        labels = tok(text_target=target).input_ids
        with torch.no_grad():
            out = model(input_ids=torch.tensor([input_ids]), labels=torch.tensor([labels]))
        logprobs = out.logits[0].float().log_softmax(-1)
        token_logprobs = logprobs[torch.arange(len(labels)), torch.tensor(labels)]
        cases.append({
            "source": source,
            "target": target,
            "input_ids": input_ids,
            "labels": labels,
            "token_logprobs": token_logprobs.tolist(),
            "sum": float(token_logprobs.sum()),
            "loss": float(out.loss),
        })
    return {"model": f"xlate-{src}-{tgt}", "cases": cases}


def main():
    have = {"torch": TORCH_VERSION, "transformers": transformers.__version__}
    if have != PINNED and "--allow-other-versions" not in sys.argv:
        sys.exit(f"generate_scores.py: need {PINNED}, have {have}; pip install -r Fixtures/requirements.txt")
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    directions = [make("en", "de"), make("de", "en")]
    write_json(os.path.join(HERE, "bundled", "scores.json"), {
        "format": FORMAT,
        "generator": GENERATOR,
        "notes": "token_logprobs = log_softmax(model(input_ids, labels=labels).logits)[i, labels[i]] (float32, "
                 "eager); labels = tokenizer(text_target=target).input_ids; see Fixtures/generate_scores.py.",
        "directions": directions,
    })
    for d in directions:
        print(f"{d['model']}: {len(d['cases'])} pairs")


if __name__ == "__main__":
    main()
