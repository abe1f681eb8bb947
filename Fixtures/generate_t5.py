#!/usr/bin/env python3
"""Regenerate xlate's T5 / mT5 reference fixtures with Hugging Face transformers.

Run from the repository root (``make fixtures`` runs it after generate.py)::

    python Fixtures/generate_t5.py

Writes, replacing what was there:

* ``Fixtures/t5/<name>/``  tiny random T5 / mT5 checkpoints (config.json, generation_config.json, safetensors)
  and ``reference.json`` in the format of ``Fixtures/marian/*/reference.json`` (encoder output, first-step
  logits, greedy / beam outputs with scores and cross-attention, a batch), plus ``relative_buckets``: the bucket
  of every relative position in [-300, 300] for the encoder (bidirectional) and the decoder (causal).
  ``relu-tied`` also holds ``spiece.model``, a 256-piece SentencePiece model trained here on Tatoeba sentences
  (T5 layout: <pad> 0, </s> 1, <unk> 2; the 100 <extra_id_N> come after it, in reverse, as transformers adds them),
  so that the CLI can run it end to end.
* ``Fixtures/t5/tokenizer-cases.json``  encode / decode cases of transformers' ``AutoTokenizer`` (the
  tokenizers-backed ``T5Tokenizer``) on that folder.

Pinned versions: Fixtures/requirements.txt (the same as generate.py, whose helpers this script reuses).
Everything is seeded; CPU only, one thread, so reruns give the same bytes.
"""

import argparse
import copy
import json
import math
import os
import shutil
import sys
import time

import sentencepiece
import torch
import transformers
from safetensors.torch import save_file
from transformers import (AutoTokenizer, GenerationConfig, MT5Config, MT5ForConditionalGeneration, T5Config,
                          T5ForConditionalGeneration)
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.models.t5.modeling_t5 import T5Attention

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import (FORMAT, GENERATOR, MAX_LENGTH, MIN_GREEDY_MARGIN, OPTION_SETS, SHARED,  # noqa: E402
                      TOKENIZER_TEXTS, cut_after_eos, f32list, greedy_min_margin, make_readable, perturbed,
                      prepare_run, record_batch, select_cases, write_json)
from generate import generate as generate_with_config_cache  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "t5")
PAD, EOS, UNK = 0, 1, 2
SPM_PIECES = 256
EXTRA_IDS = 100
MAX_CANDIDATES = 96
BUCKET_RANGE = 300

# Gains (x 1/sqrt(fan_in)) of q, k, v, self-attention o, cross-attention o, wi (wi_0 and wi_1), wo; rel: std of the
# relative attention bias; emb: std of the token embeddings; const: value of every embedding in dimension 0, which
# lets `eos_push` (added to the eos output row there) make eos likely in an input-dependent way; logit_std: target
# std of the logits, reached through the decoder's final_layer_norm weight; signed_final: give that weight random
# signs. Found by a small search so that outputs depend on the input, do not repeat one token, and their lengths
# spread between a few tokens and max_length.
HP_A = dict(q=1.5, k=1.5, v=1.0, o=2.0, co=3.0, wi=1.5, wo=1.0, rel=1.0, emb=0.3, const=0.5, logit_std=3.0,
            signed_final=True)
HP_B = dict(q=1.5, k=1.5, v=1.0, o=1.0, co=2.0, wi=1.5, wo=1.0, rel=1.0, emb=1.0, const=2.0, logit_std=3.0)

TINY_MODELS = [
    # T5 v1.0 style (t5-small): relu, output tied to the shared embedding with the d_model^-0.5 rescale, 32 buckets
    # up to distance 128, config.json as on the hub (no tie_word_embeddings key), and a tokenizer.
    dict(name="relu-tied", kind="t5", vocab=SPM_PIECES + EXTRA_IDS + 4, d=32, d_kv=8, heads=4, d_ff=64, enc=2, dec=3,
         ffn="relu", tie=True, buckets=32, max_distance=128, seed=51, hp=HP_A, eos_push=6.0, dtype=torch.float32,
         config_style="hub", tokenizer=True,
         task_specific_params={"translation_en_to_de": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                                        "prefix": "translate English to German: "},
                               "summarization": {"prefix": "summarize: "}}),
    # Flan-T5 / T5 v1.1 style: gated-gelu, separate lm_head (no rescale), heads x d_kv != d_model, few buckets so
    # that long distances share one, bfloat16 weights, config.json as transformers 5.23 writes it
    # (tie_word_embeddings true + scale_decoder_outputs false).
    dict(name="gated-gelu-untied", kind="t5", vocab=120, d=40, d_kv=12, heads=3, d_ff=56, enc=3, dec=2,
         ffn="gated-gelu", tie=False, buckets=8, max_distance=20, seed=62, hp=HP_B, eos_push=5.0, dtype=torch.bfloat16,
         config_style="transformers"),
    # mT5 style: model_type mt5, gated-gelu, separate lm_head, float16 weights, one decoder layer.
    dict(name="mt5-gated-gelu", kind="mt5", vocab=104, d=24, d_kv=10, heads=4, d_ff=48, enc=2, dec=1,
         ffn="gated-gelu", tie=False, buckets=16, max_distance=32, seed=73, hp=HP_B, eos_push=3.0, dtype=torch.float16,
         config_style="hub"),
]


# MARK: - Tokenizer --------------------------------------------------------------------------------

def train_spiece(folder):
    """A tiny T5-layout SentencePiece model (unigram, nmt_nfkc) trained on the first Tatoeba sentences."""
    lines = []
    for lang in ("en", "de"):
        with open(os.path.join(SHARED, "eval", f"tatoeba-test.{lang}"), encoding="utf-8") as f:
            lines += f.read().splitlines()[:3000]
    prefix = os.path.join(folder, "spiece")
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=prefix, vocab_size=SPM_PIECES, model_type="unigram",
        pad_id=PAD, eos_id=EOS, unk_id=UNK, bos_id=-1, character_coverage=1.0, num_threads=1,
        normalization_rule_name="nmt_nfkc", minloglevel=2)
    os.remove(prefix + ".vocab")


T5_TOKENIZER_TEXTS = TOKENIZER_TEXTS + [
    "translate English to German: The house is wonderful.",
    "summarize: studies have shown that owning a dog is good for you",
    "The <extra_id_0> walks in <extra_id_1> park",
    "a<extra_id_0>b",
    "<extra_id_99> <extra_id_5><extra_id_5> end",
    "<extra_id_100> is not a sentinel",
    "<extra_id_> <extra_id_x> extra_id_3",
    "x</s>y <unk> <pad>z",
    "a ▁ b ▁▁c",
    "\u3000ideographic\u3000space\u3000",
    "  ",
]


END_TO_END = [
    ("translate English to German: ", [
        "Hello world.", "I like tea.", "The cat sat on the mat.", "Where is the station?", "He is my friend.",
        "We are going home now.", "Tom can't swim.", "What time is it?", "I don't know.", "This book is red.",
    ]),
    ("summarize: ", [
        "Studies have shown that owning a dog is good for you.", "The weather was cold, so we stayed inside.",
        "She reads a book every week.", "My brother lives in Berlin.", "It rained all day.", "Call me tomorrow.",
    ]),
]


def make_end_to_end(folder):
    """Text in, text out through the tokenizer and the relu-tied model, greedy and beam 4, as the CLI runs it."""
    tok = AutoTokenizer.from_pretrained(folder)
    spec = TINY_MODELS[0]
    model = load_reference(folder, build_tiny(spec), spec)
    checks = [copy.deepcopy(model).double(), perturbed(model, 1), perturbed(model, 2)]
    cases = []
    for prefix, texts in END_TO_END:
        for text in texts:
            x = torch.tensor([tok(prefix + text).input_ids])
            case = {"prefix": prefix, "text": text}
            robust = True
            for key, beams in (("greedy", 1), ("beam4", 4)):
                opts = dict(OPTION_SETS[0], num_beams=beams)
                out = generate(model, x, opts)
                ids = cut_after_eos(out.sequences[0, 1:].tolist(), eos=EOS)
                robust &= all(sequences_of(other, x, opts)[0] == ids for other in checks)
                if beams == 1:
                    robust &= greedy_min_margin(out.scores) >= MIN_GREEDY_MARGIN
                case[key] = tok.decode(ids, skip_special_tokens=True)
            if robust:
                cases.append(case)
    return cases


def make_tokenizer_cases(folder):
    tok = AutoTokenizer.from_pretrained(folder)
    encode = [{"text": t, "pieces": tok.convert_ids_to_tokens(tok(t).input_ids)[:-1], "ids": tok(t).input_ids}
              for t in T5_TOKENIZER_TEXTS]
    hello = tok("Hello world!").input_ids
    fox = tok("The quick brown fox jumps over the lazy dog.").input_ids
    sentinel = tok("The <extra_id_0> walks in <extra_id_1> park").input_ids
    space = tok.convert_tokens_to_ids("▁")
    size = len(tok)
    dec_ids = [
        [],
        [EOS],
        hello,
        hello[:-1],
        fox,
        sentinel,
        [PAD] + hello,
        [UNK] + hello,
        hello[:2] + [UNK] + hello[2:],
        hello[:2] + [EOS] + hello[2:],
        [space, space] + hello,
        [space, UNK, space, UNK, EOS],
        hello[:-1] + [space, EOS],
        [size - 1, 5, size - 100, 7, EOS],
        [5, size, size + 3, 7],
        list(range(3, 23)),
        fox[::-1],
    ]
    decode = [{"ids": ids, "skip_special_tokens": True, "text": tok.decode(ids, skip_special_tokens=True)}
              for ids in dec_ids]
    for ids in (sentinel, [UNK] + hello, hello[:2] + [EOS] + hello[2:], [PAD] + hello):
        decode.append({"ids": ids, "skip_special_tokens": False, "text": tok.decode(ids, skip_special_tokens=False)})
    spm = sentencepiece.SentencePieceProcessor(model_file=os.path.join(folder, "spiece.model"))
    write_json(os.path.join(OUT, "tokenizer-cases.json"), {
        "format": FORMAT,
        "tokenizer": f"AutoTokenizer.from_pretrained(Fixtures/t5/relu-tied) = {type(tok).__name__} "
                     f"({'fast' if tok.is_fast else 'slow'}), {size} ids",
        "generator": GENERATOR,
        "notes": "encode: ids = tokenizer(text).input_ids (</s> appended), pieces = convert_ids_to_tokens(ids) "
                 "without the </s>; decode: tokenizer.decode(ids, skip_special_tokens=...). <extra_id_N> has id "
                 f"{SPM_PIECES} + {EXTRA_IDS - 1} - N; ids past the tokenizer ({size}) decode to nothing.",
        "spm_pieces": spm.get_piece_size(),
        "encode": encode,
        "decode": decode,
        "end_to_end_notes": "relu-tied model + this tokenizer, generation_config defaults (max_length 24): "
                            "decode(generate(tokenizer(prefix + text).input_ids, num_beams=...), "
                            "skip_special_tokens=True); only inputs whose ids survive float64 and perturbed weights.",
        "end_to_end": make_end_to_end(folder),
    })
    return dict(encode=len(encode), decode=len(decode))


# MARK: - Tiny random checkpoints -------------------------------------------------------------------

def build_tiny(spec):
    """A T5 / mT5 model with deterministic weights, rounded to the storage dtype, in float32."""
    d, hp = spec["d"], spec["hp"]
    config_class, model_class = (T5Config, T5ForConditionalGeneration) if spec["kind"] == "t5" else (
        MT5Config, MT5ForConditionalGeneration)
    cfg = config_class(
        vocab_size=spec["vocab"], d_model=d, d_kv=spec["d_kv"], d_ff=spec["d_ff"], num_layers=spec["enc"],
        num_decoder_layers=spec["dec"], num_heads=spec["heads"], relative_attention_num_buckets=spec["buckets"],
        relative_attention_max_distance=spec["max_distance"], feed_forward_proj=spec["ffn"],
        tie_word_embeddings=spec["tie"], dropout_rate=0.0, pad_token_id=PAD, eos_token_id=EOS,
        decoder_start_token_id=PAD, attn_implementation="eager",
    )
    torch.manual_seed(spec["seed"])
    model = model_class(cfg).eval()
    if not spec["tie"]:
        # transformers 5.x ties lm_head to shared at construction whatever the config says; untie it.
        model.lm_head.weight = torch.nn.Parameter(torch.empty(spec["vocab"], d))
    g = torch.Generator().manual_seed(spec["seed"])
    lm_std = hp["emb"] if spec["tie"] else 0.3
    # Tied output is rescaled by d^-0.5 (T5) before the projection.
    rescale = d ** -0.5 if (spec["tie"] and spec["kind"] == "t5") else 1.0
    gamma = hp["logit_std"] / (lm_std * math.sqrt(d) * rescale)
    final = "decoder.final_layer_norm.weight"
    with torch.no_grad():
        for n, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if n == final and hp.get("signed_final"):
                # Random signs: otherwise the tied output favours the token just fed (its embedding is in the
                # residual stream), and greedy outputs repeat one token.
                p.copy_(gamma * r)
                p[0] = gamma
            elif n == final:
                p.copy_(gamma * (1 + 0.2 * r))
            elif n.endswith("layer_norm.weight"):
                p.copy_(1 + 0.2 * r)
            elif n == "shared.weight":
                p.copy_(hp["emb"] * r)
                p[:, 0] = hp["const"]
            elif n == "lm_head.weight":
                p.copy_(lm_std * r)
            elif "relative_attention_bias" in n:
                p.copy_(hp["rel"] * r)
            elif n.endswith(".weight"):
                key = n.split(".")[-2]
                gain = {"q": hp["q"], "k": hp["k"], "v": hp["v"], "wi": hp["wi"], "wi_0": hp["wi"],
                        "wi_1": hp["wi"], "wo": hp["wo"]}.get(key)
                if key == "o":
                    gain = hp["co"] if "EncDecAttention" in n else hp["o"]
                if gain is None:
                    raise RuntimeError(f"unexpected parameter {n}")
                p.copy_(gain / math.sqrt(p.shape[1]) * r)
            else:
                raise RuntimeError(f"unexpected parameter {n}")
        # Push eos through the constant dimension of the final hidden state.
        head = model.lm_head.weight
        head[EOS, 0] += spec["eos_push"] / (gamma * rescale)
        if spec["dtype"] != torch.float32:
            for p in model.parameters():
                p.copy_(p.to(spec["dtype"]).to(torch.float32))
    model.generation_config = GenerationConfig(
        max_length=MAX_LENGTH, decoder_start_token_id=PAD, eos_token_id=EOS, pad_token_id=PAD)
    return model


def write_checkpoint(model, spec, folder):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    cfg_path = os.path.join(folder, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["dtype"] = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[spec["dtype"]]
    if spec["config_style"] == "hub":
        # As the configs of t5-small / flan-t5 / mt5 on the hub: no derived keys; tie_word_embeddings only when false.
        for key in ("scale_decoder_outputs", "dense_act_fn", "is_gated_act", "tie_word_embeddings"):
            cfg.pop(key, None)
        if not spec["tie"]:
            cfg["tie_word_embeddings"] = False
        cfg["n_positions"] = 512
    if "task_specific_params" in spec:
        cfg["task_specific_params"] = spec["task_specific_params"]
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    tensors = {k: v.detach().clone().contiguous().to(spec["dtype"]) for k, v in model.state_dict().items()}
    if spec["tie"]:
        del tensors["lm_head.weight"]  # what save_pretrained writes for a tied model
    for stack in ("encoder", "decoder"):
        tensors.pop(f"{stack}.embed_tokens.weight", None)
    save_file(dict(sorted(tensors.items())), os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})


def load_reference(folder, built, spec):
    """Reload the written folder in float32 + eager and check it equals the built model."""
    model_class = T5ForConditionalGeneration if spec["kind"] == "t5" else MT5ForConditionalGeneration
    model = model_class.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    ref = dict(built.named_parameters())
    for n, p in model.named_parameters():
        assert p.dtype == torch.float32, (n, p.dtype)
        if not torch.equal(p, ref[n]):
            raise RuntimeError(f"{folder}: {n} differs after save/load")
    tied = model.lm_head.weight is model.shared.weight
    if tied != spec["tie"]:
        raise RuntimeError(f"{folder}: lm_head tied = {tied}, expected {spec['tie']}")
    scales = getattr(model.config, "scale_decoder_outputs", False)
    if scales != (spec["tie"] and spec["kind"] == "t5"):
        raise RuntimeError(f"{folder}: scale_decoder_outputs = {scales}")
    return model


def generate(model, input_ids, opts, attention_mask=None):
    """generate.py's `generate` with a cache that grows per layer.

    transformers 5.23 sizes the default cache from `num_layers` (the encoder's) and fails with an IndexError when
    `num_decoder_layers` is larger (relu-tied: 2 encoder, 3 decoder layers); an empty `DynamicCache()` creates its
    layers as they are used. Same computation otherwise.
    """
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    original = model.generate
    model.generate = lambda **kwargs: original(past_key_values=cache, **kwargs)
    try:
        return generate_with_config_cache(model, input_ids, opts, attention_mask=attention_mask)
    finally:
        del model.generate


def record_generation(model, input_ids, opts):
    out = generate(model, input_ids, opts)
    seqs = [cut_after_eos(row[1:].tolist(), eos=EOS) for row in out.sequences]
    entry = {"options": dict(opts), "sequences": seqs}
    layer = -1  # last decoder layer
    if opts["num_beams"] == 1:
        entry["scores"] = None
        rows = [out.cross_attentions[t][layer][0, :, 0, :].mean(0) for t in range(len(seqs[0]))]
        entry["min_margin"] = greedy_min_margin(out.scores)
    else:
        entry["scores"] = f32list(out.sequences_scores)
        bi = out.beam_indices[0].tolist()
        assert all(b >= 0 for b in bi[: len(seqs[0])])
        rows = [out.cross_attentions[t][layer][bi[t], :, 0, :].mean(0) for t in range(len(seqs[0]))]
    entry["cross_attentions"] = [f32list(r) for r in rows]
    return entry


def sequences_of(model, input_ids, opts):
    return [cut_after_eos(r[1:].tolist(), eos=EOS) for r in generate(model, input_ids, opts).sequences]


def candidate_inputs(spec):
    """Deterministic source inputs: lengths 1..14 (trailing eos), ids in [2, vocab - 4)."""
    g = torch.Generator().manual_seed(1000 + spec["seed"])
    order = [1, 14, 5, 9, 3, 12, 7, 2, 11, 6, 13, 4, 8, 10]
    for i in range(MAX_CANDIDATES):
        n = order[i % len(order)]
        ids = [int(torch.randint(2, spec["vocab"] - 4, (1,), generator=g)) for _ in range(n - 1)]
        yield ids + [EOS]


def bucket_table(config):
    positions = torch.arange(-BUCKET_RANGE, BUCKET_RANGE + 1)
    def buckets(bidirectional):
        return T5Attention._relative_position_bucket(
            positions, bidirectional=bidirectional, num_buckets=config.relative_attention_num_buckets,
            max_distance=config.relative_attention_max_distance).tolist()
    return {"first_position": -BUCKET_RANGE, "encoder": buckets(True), "decoder": buckets(False)}


def make_tiny(spec):
    name = spec["name"]
    folder = os.path.join(OUT, name)
    built = build_tiny(spec)
    write_checkpoint(built, spec, folder)
    if spec.get("tokenizer"):
        train_spiece(folder)
    make_readable(folder)
    model = load_reference(folder, built, spec)
    cases, rejected = select_cases(name, model, candidate_inputs(spec), PAD, record_generation, sequences_of)
    batch = record_batch(model, cases, PAD, generate, sequences_of, eos=EOS)

    write_json(os.path.join(folder, "reference.json"), {
        "format": FORMAT,
        "model": name,
        "generator": GENERATOR,
        "notes": "float32 model (weights = stored values), eager attention; sequences exclude the decoder start "
                 "token (pad 0) and end at the first eos (1); cross_attentions = last decoder layer, mean over "
                 "heads, row i while predicting token i of sequences[0]; greedy min_margin = smallest top1-top2 "
                 "processed logit; relative_buckets = T5Attention._relative_position_bucket of positions "
                 "first_position... for the encoder (bidirectional) and decoder (causal).",
        "relative_buckets": bucket_table(model.config),
        "cases": cases,
        "batch": batch,
    })
    return dict(name=name, cases=len(cases), rejected=rejected,
                greedy_lengths=[len(c["generations"][0]["sequences"][0]) for c in cases],
                batch_matches=batch["matches_unbatched"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--allow-other-versions", action="store_true")
    args = ap.parse_args()
    prepare_run("generate_t5.py", args)
    t0 = time.time()
    for spec in TINY_MODELS:
        r = make_tiny(spec)
        print(f"t5 {r['name']}: {r['cases']} cases ({r['rejected']} candidates rejected), greedy lengths "
              f"{r['greedy_lengths']}, batch matches unbatched: {r['batch_matches']}", flush=True)
    r = make_tokenizer_cases(os.path.join(OUT, "relu-tied"))
    print(f"t5 tokenizer: {r['encode']} encode, {r['decode']} decode cases", flush=True)
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
