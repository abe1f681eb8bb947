#!/usr/bin/env python3
"""Regenerate xlate's BART reference fixture with Hugging Face transformers.

Run from the repository root (``make fixtures`` runs it after generate_mbart50.py)::

    python Fixtures/generate_bart.py

Writes, replacing what was there, ``Fixtures/bart/bart-tiny/``: a tiny random ``bart`` checkpoint (config.json,
generation_config.json with ``forced_bos_token_id`` = ``<s>`` as facebook/bart-large-cnn's, safetensors: post-norm
layers, learned positions from row 2, ``layernorm_embedding``, ``final_logits_bias``) with ``BartTokenizer`` files
(``vocab.json`` + ``merges.txt``: a byte-level BPE of 400 tokens trained here with ``tokenizers`` on Tatoeba
sentences), and ``reference.json`` in the format of ``Fixtures/m2m100/*/reference.json`` (no languages; sources
``<s> tokens </s>``).

Pinned versions: Fixtures/requirements.txt. Everything is seeded; CPU only, one thread, so reruns give the same bytes.
"""

import argparse
import copy
import json
import math
import os
import shutil
import sys
import time

import torch
import transformers
from safetensors.torch import save_file
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration, GenerationConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import (FORMAT, GENERATOR, MAX_LENGTH, OPTION_SETS, SHARED, cut_after_eos,  # noqa: E402
                      greedy_min_margin, make_readable, perturbed, prepare_run, record_batch, select_cases,
                      write_json)
from generate_m2m100 import HP, randomize_bart_weights, record_generation, sequences_of  # noqa: E402
from generate_t5 import generate  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "bart")
BOS, PAD, EOS, UNK, MASK = 0, 1, 2, 3, 4
SPEC = dict(name="bart-tiny", d=32, heads=4, ffn=64, enc=2, dec=2, seed=61, eos_bias=7.0)
MAX_CANDIDATES = 96

TOKENIZER_TEXTS = [
    "", " ", "Hello world!", " Hello   world! ", "The cat sat on the mat.", "I'm sure it's fine, isn't it?",
    "Straße Größe Übermaß", "I love 🍕 and 寿司!", "tab\tseparated\nlines", "x</s>y <unk> <pad>z <mask> m",
    "3.14 1,000 -42 50%", "trailing spaces   ", "  leading", "<s> start",
]


def make_tokenizer(folder):
    lines = []
    for lang in ("en", "de"):
        with open(os.path.join(SHARED, "eval", f"tatoeba-test.{lang}"), encoding="utf-8") as f:
            lines += f.read().splitlines()[:3000]
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(lines, vocab_size=400, min_frequency=2, show_progress=False,
                                special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    trainer.save_model(folder)
    tok = transformers.BartTokenizer(vocab=os.path.join(folder, "vocab.json"), merges=os.path.join(folder, "merges.txt"))
    tok.save_pretrained(folder)
    for name in ("tokenizer.json",):  # keep the classic vocab.json + merges.txt layout only
        path = os.path.join(folder, name)
        if os.path.exists(path):
            os.remove(path)
    return AutoTokenizer.from_pretrained(folder)


def build_tiny(vocab_size):
    d, hp, spec = SPEC["d"], HP, SPEC
    cfg = BartConfig(
        vocab_size=vocab_size, d_model=d, encoder_layers=spec["enc"], decoder_layers=spec["dec"],
        encoder_attention_heads=spec["heads"], decoder_attention_heads=spec["heads"], encoder_ffn_dim=spec["ffn"],
        decoder_ffn_dim=spec["ffn"], activation_function="gelu", scale_embedding=False, max_position_embeddings=64,
        pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, decoder_start_token_id=EOS, forced_bos_token_id=BOS,
        forced_eos_token_id=EOS, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        attn_implementation="eager")
    torch.manual_seed(spec["seed"])
    model = BartForConditionalGeneration(cfg).eval()
    g = torch.Generator().manual_seed(spec["seed"])
    emb_std = hp["emb"] / math.sqrt(d)
    gamma = hp["logit_std"] / (emb_std * math.sqrt(d))
    last = f"model.decoder.layers.{spec['dec'] - 1}.final_layer_norm.weight"
    randomize_bart_weights(model, g, hp, gamma, emb_std, last, spec["eos_bias"])
    model.generation_config = GenerationConfig(
        max_length=MAX_LENGTH, decoder_start_token_id=EOS, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
        forced_bos_token_id=BOS, forced_eos_token_id=EOS)
    return model


def write_checkpoint(model, folder):
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    tensors.pop("lm_head.weight", None)
    for key in ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"):
        tensors.pop(key, None)
    save_file(dict(sorted(tensors.items())), os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})


def candidate_inputs(vocab_size):
    g = torch.Generator().manual_seed(1000 + SPEC["seed"])
    order = [9, 1, 14, 5, 3, 12, 7, 2, 11, 6, 13, 4, 8, 10]
    for i in range(MAX_CANDIDATES):
        n = order[i % len(order)]
        ids = [int(torch.randint(5, vocab_size, (1,), generator=g)) for _ in range(n - 1)]
        yield [BOS] + ids + [EOS]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--allow-other-versions", action="store_true")
    args = ap.parse_args()
    prepare_run("generate_bart.py", args)
    t0 = time.time()
    folder = os.path.join(OUT, SPEC["name"])
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    tok = make_tokenizer(folder)
    vocab_size = len(tok) + 3
    built = build_tiny(vocab_size)
    write_checkpoint(built, folder)
    make_readable(folder)
    model = BartForConditionalGeneration.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    cases, rejected = select_cases(SPEC["name"], model, candidate_inputs(vocab_size), EOS, record_generation, sequences_of)
    batch = record_batch(model, cases, PAD, generate, sequences_of, eos=EOS)
    encode = [{"text": t, "ids": tok(t).input_ids, "pieces": tok.convert_ids_to_tokens(tok(t).input_ids)}
              for t in TOKENIZER_TEXTS]
    hello = tok("Hello world!").input_ids
    size = len(tok)
    dec_ids = [[], [EOS], hello, hello[1:], [PAD, UNK] + hello, hello[:3] + [EOS] + hello[3:], list(range(5, 40)),
               hello[::-1], [size - 1, 7, 9, EOS], [MASK, 100, 200]]
    decode = [{"ids": ids, "text": tok.decode(ids, skip_special_tokens=True)} for ids in dec_ids]
    checks = [copy.deepcopy(model).double(), perturbed(model, 1), perturbed(model, 2)]
    end_to_end = []
    for text in ["Hello world.", "I like tea.", "The cat sat on the mat.", "Where is the station?", "He is my friend.",
                 "We are going home now.", "Tom can't swim.", "What time is it?", "I don't know.", "It rained all day."]:
        x = torch.tensor([tok(text).input_ids])
        case, robust = {"text": text, "input_ids": x[0].tolist()}, True
        for key, beams in (("greedy", 1), ("beam4", 4)):
            opts = dict(OPTION_SETS[0], num_beams=beams)
            out = generate(model, x, opts)
            ids = cut_after_eos(out.sequences[0, 1:].tolist(), eos=EOS)
            robust &= all(sequences_of(other, x, opts)[0] == ids for other in checks)
            if beams == 1:
                robust &= greedy_min_margin(out.scores) >= 5e-4
            case[key] = {"ids": ids, "text": tok.decode(ids, skip_special_tokens=True)}
        if robust:
            end_to_end.append(case)
    write_json(os.path.join(folder, "reference.json"), {
        "format": FORMAT, "model": SPEC["name"], "generator": GENERATOR,
        "notes": "float32 model, eager attention, generation_config.json's forced_bos_token_id (<s>) and "
                 "forced_eos_token_id; inputs are <s> ids </s>; sequences exclude the decoder start token (</s> 2) and "
                 "end at the first eos; tokenizer: AutoTokenizer.from_pretrained(folder) "
                 f"({type(tok).__name__}), decode(ids, skip_special_tokens=True); end_to_end: "
                 "decode(generate(tokenizer(text).input_ids, num_beams), skip_special_tokens=True), only inputs whose "
                 "ids survive float64 and perturbed weights.",
        "cases": cases, "batch": batch,
        "tokenizer": {"encode": encode, "decode": decode, "languages": {}, "size": size},
        "end_to_end": end_to_end,
    })
    print(f"bart {SPEC['name']}: {len(cases)} cases ({rejected} rejected), greedy lengths "
          f"{[len(c['generations'][0]['sequences'][0]) for c in cases]}, batch matches unbatched: "
          f"{batch['matches_unbatched']}, end to end: {len(end_to_end)}, files: {sorted(os.listdir(folder))}")
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
