#!/usr/bin/env python3
"""Regenerate xlate's reference fixtures with Hugging Face transformers.

Run from the repository root (``make fixtures``)::

    python Fixtures/generate.py                 # everything
    python Fixtures/generate.py --only tiny     # tiny | bundled | tokenizer (repeatable)

Writes, replacing what was there:

* ``Fixtures/marian/<name>/``  tiny random Marian checkpoints (config.json, generation_config.json,
  safetensors) and ``reference.json`` with encoder output, first-step logits, greedy / beam outputs,
  beam scores and cross-attention, all computed in float32 with eager attention.
* ``Fixtures/bundled/{en-de,de-en}.json``  greedy and beam-4 translations by the bundled models
  (``../shared/models``) of sentences from ``../shared/eval``.
* ``Vocab/tokenizer-cases.json``  MarianTokenizer encode / decode cases (on the vocabulary in ``Vocab/``).

Pinned versions: Fixtures/requirements.txt. The script refuses other torch/transformers versions
unless --allow-other-versions is given, since the outputs are the reference xlate must match.
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

import torch
import transformers
from safetensors.torch import save_file
from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("XLATE_SHARED", os.path.join(ROOT, "..", "shared"))
PINNED = {"torch": "2.15.0", "transformers": "5.23.0"}
TORCH_VERSION = torch.__version__.split("+")[0]
GENERATOR = f"transformers {transformers.__version__} / torch {TORCH_VERSION}"
FORMAT = "xlate-fixture-v1"

MAX_LENGTH = 24  # generation_config.max_length of every tiny model


# MARK: - JSON output ------------------------------------------------------------------------------

def _is_scalar(x):
    return x is None or isinstance(x, (bool, int, float, str))


def _dumps(obj, indent=0):
    """JSON with one line per list of scalars (so float tables stay compact and diffable).

    Floats come from float32 tensors via .tolist(): Python's repr of that double is the exact float32
    value, so parsing it as Double and converting to Float is lossless.
    """
    pad = " " * indent
    inner = " " * (indent + 1)
    if _is_scalar(obj):
        if isinstance(obj, float) and not math.isfinite(obj):
            raise ValueError(f"non-finite float in fixture: {obj}")
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if all(_is_scalar(x) for x in obj):
            return "[" + ", ".join(_dumps(x) for x in obj) + "]"
        return "[\n" + ",\n".join(inner + _dumps(x, indent + 1) for x in obj) + "\n" + pad + "]"
    raise TypeError(type(obj))


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(_dumps(obj) + "\n")


def f32list(t):
    """Tensor -> nested lists of Python floats holding exact float32 values."""
    return t.detach().to(torch.float32).cpu().tolist()


def cut_after_eos(ids, eos=0):
    """Generated ids without the decoder start token, through the first eos (kept), no padding."""
    out = []
    for i in ids:
        out.append(int(i))
        if i == eos:
            break
    return out


# MARK: - Tiny random Marian checkpoints ------------------------------------------------------------

# Weight scales were found by a small search so that greedy outputs are input-dependent, not stuck on
# one repeated token, and the eos bias so that lengths spread between a few tokens and max_length.
# qk/v/ao/cao/f1/f2: gains (x 1/sqrt(fan_in)) of q+k, v, self-attn out, cross-attn out, fc1, fc2;
# in_mag: per-dimension std of the (scaled) token embedding; logit_std: target std of the logits,
# reached through the last decoder layer's final_layer_norm weight.
HP_A = dict(qk=4.0, v=0.5, ao=2.0, cao=0.3, f1=1.0, f2=3.0, in_mag=2.0, logit_std=3.0)
HP_C = dict(qk=4.0, v=1.0, ao=0.3, cao=2.0, f1=2.0, f2=3.0, in_mag=0.5, logit_std=3.0)

TINY_MODELS = [
    dict(name="tied-swish", vocab=96, dvocab=None, d=32, heads=4, ffn=64, enc=2, dec=3, act="swish",
         scale=True, tie=True, share=True, seed=11, hp=HP_A, eos_bias=3.5, dtype=torch.float32,
         layout="shared-only"),
    dict(name="tied-keys-gelu-fp16", vocab=80, dvocab=None, d=32, heads=4, ffn=64, enc=3, dec=1, act="gelu",
         scale=False, tie=True, share=True, seed=22, hp=HP_C, eos_bias=6.0, dtype=torch.float16,
         layout="all-keys"),
    dict(name="untied-relu-bf16", vocab=112, dvocab=None, d=48, heads=4, ffn=96, enc=1, dec=2, act="relu",
         scale=True, tie=False, share=True, seed=33, hp=HP_A, eos_bias=6.0, dtype=torch.bfloat16,
         layout="sharded"),
    dict(name="separate-vocabs", vocab=100, dvocab=72, d=40, heads=2, ffn=80, enc=2, dec=2, act="swish",
         scale=True, tie=True, share=False, seed=44, hp=HP_A, eos_bias=7.5, dtype=torch.float32,
         layout="separate"),
]

# Decoding option sets recorded for every case. max_length is the generation_config value; when
# max_new_tokens is set it takes precedence (effective max_length = 1 + max_new_tokens for an
# encoder-decoder, the decoder prompt being the start token).
OPTION_SETS = [
    dict(num_beams=1, length_penalty=1.0, early_stopping=False, max_length=MAX_LENGTH, max_new_tokens=None, num_return_sequences=1),
    dict(num_beams=4, length_penalty=1.0, early_stopping=False, max_length=MAX_LENGTH, max_new_tokens=None, num_return_sequences=4),
    dict(num_beams=4, length_penalty=0.6, early_stopping=False, max_length=MAX_LENGTH, max_new_tokens=None, num_return_sequences=2),
    dict(num_beams=3, length_penalty=2.0, early_stopping=True, max_length=MAX_LENGTH, max_new_tokens=None, num_return_sequences=1),
    dict(num_beams=5, length_penalty=1.0, early_stopping="never", max_length=MAX_LENGTH, max_new_tokens=None, num_return_sequences=1),
    dict(num_beams=4, length_penalty=-0.5, early_stopping="never", max_length=MAX_LENGTH, max_new_tokens=None, num_return_sequences=2),
    dict(num_beams=2, length_penalty=0.0, early_stopping=True, max_length=MAX_LENGTH, max_new_tokens=None, num_return_sequences=2),
    dict(num_beams=1, length_penalty=1.0, early_stopping=False, max_length=MAX_LENGTH, max_new_tokens=5, num_return_sequences=1),
    dict(num_beams=4, length_penalty=1.0, early_stopping=False, max_length=MAX_LENGTH, max_new_tokens=5, num_return_sequences=1),
]

CASES_PER_MODEL = 8
MAX_CANDIDATES = 64
MIN_GREEDY_MARGIN = 5e-4   # top-1 minus top-2 processed logit at every greedy step
PERTURBATION = 1e-5        # relative weight noise a case's ids must survive


def build_tiny(spec):
    """MarianMTModel with deterministic weights, rounded to the storage dtype, in float32."""
    d = spec["d"]
    dv = spec["dvocab"] or spec["vocab"]
    pad = dv - 1
    hp = spec["hp"]
    cfg = MarianConfig(
        vocab_size=spec["vocab"], decoder_vocab_size=dv, d_model=d,
        encoder_layers=spec["enc"], decoder_layers=spec["dec"],
        encoder_attention_heads=spec["heads"], decoder_attention_heads=spec["heads"],
        encoder_ffn_dim=spec["ffn"], decoder_ffn_dim=spec["ffn"],
        activation_function=spec["act"], scale_embedding=spec["scale"],
        tie_word_embeddings=spec["tie"], share_encoder_decoder_embeddings=spec["share"],
        max_position_embeddings=64, pad_token_id=pad, decoder_start_token_id=pad,
        eos_token_id=0, forced_eos_token_id=0, bos_token_id=None,
        init_std=0.3, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        attn_implementation="eager",
    )
    torch.manual_seed(spec["seed"])
    model = MarianMTModel(cfg).eval()
    g = torch.Generator().manual_seed(spec["seed"])
    emb_std = hp["in_mag"] / (math.sqrt(d) if spec["scale"] else 1.0)
    lm_std = emb_std if spec["tie"] else 0.3
    gamma = hp["logit_std"] / (lm_std * math.sqrt(d))
    last_ln = f"model.decoder.layers.{spec['dec'] - 1}.final_layer_norm.weight"
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "embed_positions" in n:
                continue  # sinusoidal, as created by transformers
            r = torch.randn(p.shape, generator=g)
            if n == last_ln:
                p.copy_(gamma * (1 + 0.2 * r))
            elif n.endswith("layer_norm.weight"):
                p.copy_(1 + 0.2 * r)
            elif n.endswith("layer_norm.bias"):
                p.copy_(0.1 * r)
            elif n == "lm_head.weight":
                p.copy_(lm_std * r)
            elif "embed_tokens" in n or n == "model.shared.weight":
                p.copy_(emb_std * r)
            elif n.endswith(".bias"):
                p.copy_(0.1 * r)
            elif n.endswith(".weight"):
                if "q_proj" in n or "k_proj" in n:
                    gain = hp["qk"]
                elif "v_proj" in n:
                    gain = hp["v"]
                elif "encoder_attn.out_proj" in n:
                    gain = hp["cao"]
                elif "out_proj" in n:
                    gain = hp["ao"]
                elif "fc1" in n:
                    gain = hp["f1"]
                else:
                    gain = hp["f2"]
                p.copy_(gain / math.sqrt(p.shape[1]) * r)
            else:
                raise RuntimeError(f"unexpected parameter {n}")
        if spec["share"] and not spec["tie"]:
            # transformers 5.x ties encoder/decoder embed_tokens to model.shared only when
            # tie_word_embeddings is true; keep all three equal so the checkpoint means one thing.
            model.model.encoder.embed_tokens.weight.copy_(model.model.shared.weight)
            model.model.decoder.embed_tokens.weight.copy_(model.model.shared.weight)
        # OPUS-MT: the decoder start (= pad) row is zero.
        model.model.decoder.embed_tokens.weight[pad].zero_()
        if spec["share"]:
            model.model.encoder.embed_tokens.weight[pad].zero_()
            model.model.shared.weight[pad].zero_()
        bias = 0.1 * torch.randn(model.final_logits_bias.shape, generator=g)
        bias[0, 0] += spec["eos_bias"]
        bias[0, pad] = 0.0
        model.final_logits_bias.copy_(bias)
        # The reference is a float32 model holding exactly the stored (rounded) values.
        if spec["dtype"] != torch.float32:
            for n, p in list(model.named_parameters()) + list(model.named_buffers()):
                if "embed_positions" not in n:
                    p.copy_(p.to(spec["dtype"]).to(torch.float32))
    model.generation_config = GenerationConfig(
        max_length=MAX_LENGTH, num_beams=4, bad_words_ids=[[pad]], forced_eos_token_id=0,
        decoder_start_token_id=pad, eos_token_id=0, pad_token_id=pad,
    )
    return model


def checkpoint_tensors(model, spec):
    """The tensors each fixture stores (layouts tabled in Fixtures/NOTES.md)."""
    sd = model.state_dict()
    layout = spec["layout"]
    drop = {"model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"}
    if layout == "shared-only":
        drop |= {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"}
    elif layout == "all-keys":
        drop = set()
    elif layout == "sharded":
        pass  # model.shared + encoder/decoder embed_tokens (all equal) + separate lm_head
    elif layout == "separate":
        drop |= {"lm_head.weight"}  # tied to model.decoder.embed_tokens.weight
    else:
        raise ValueError(layout)
    out = {}
    for k in sorted(sd):
        if k in drop:
            continue
        t = sd[k].detach().clone().contiguous()
        # Positional tables stay float32: they are the exact sinusoid, as older fp32 checkpoints store it.
        out[k] = t if "embed_positions" in k else t.to(spec["dtype"])
    return out


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
    cfg.pop("_attn_implementation_autoset", None)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    tensors = checkpoint_tensors(model, spec)
    meta = {"format": "pt"}
    if spec["layout"] != "sharded":
        save_file(tensors, os.path.join(folder, "model.safetensors"), metadata=meta)
        return
    keys = sorted(tensors)
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    shards, acc, cur = [], 0, []
    for k in keys:
        cur.append(k)
        acc += tensors[k].numel() * tensors[k].element_size()
        if not shards and acc >= total / 2:
            shards.append(cur)
            cur = []
    shards.append(cur)
    assert len(shards) == 2 and all(shards), "expected two non-empty shards"
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({k: tensors[k] for k in shard}, os.path.join(folder, fname), metadata=meta)
        for k in shard:
            weight_map[k] = fname
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")


def make_readable(folder):
    for f in os.listdir(folder):  # safetensors creates files with mode 0600
        os.chmod(os.path.join(folder, f), 0o644)


def load_reference(folder, built):
    """Reload the written checkpoint in float32 + eager and check it equals the built model."""
    model = MarianMTModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    assert model.dtype == torch.float32
    ref = dict(built.named_parameters())
    ref.update(dict(built.named_buffers()))
    for n, p in list(model.named_parameters()) + list(model.named_buffers()):
        assert p.dtype == torch.float32, (n, p.dtype)
        if not torch.equal(p, ref[n]):
            raise RuntimeError(f"{folder}: {n} differs after save/load")
    for stack in (model.model.encoder, model.model.decoder):
        if not torch.equal(stack.embed_positions.weight, stack.embed_positions.create_weight()):
            raise RuntimeError(f"{folder}: positional table is not the sinusoid")
    return model


def generate(model, input_ids, opts, attention_mask=None):
    kwargs = dict(
        num_beams=opts["num_beams"], length_penalty=opts["length_penalty"], early_stopping=opts["early_stopping"],
        num_return_sequences=opts["num_return_sequences"], do_sample=False,
        return_dict_in_generate=True, output_scores=True, output_attentions=True,
    )
    if opts["max_new_tokens"] is not None:
        kwargs["max_new_tokens"] = opts["max_new_tokens"]
    else:
        kwargs["max_length"] = opts["max_length"]
    with torch.no_grad():
        return model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)


def sequences_of(model, input_ids, opts):
    return [cut_after_eos(r[1:].tolist()) for r in generate(model, input_ids, opts).sequences]


def greedy_min_margin(scores):
    """Smallest top-1 minus top-2 processed score over the steps where the choice was free."""
    margin = math.inf
    for s in scores:
        row = s[0]
        finite = row[torch.isfinite(row)]
        if finite.numel() < 2:
            continue  # forced eos step
        top = torch.topk(finite, 2).values
        margin = min(margin, float(top[0] - top[1]))
    return margin


def record_generation(model, input_ids, opts):
    out = generate(model, input_ids, opts)
    seqs = [cut_after_eos(row[1:].tolist()) for row in out.sequences]
    entry = {"options": dict(opts), "sequences": seqs}
    layer = -1  # last decoder layer
    if opts["num_beams"] == 1:
        entry["scores"] = None
        assert len(out.cross_attentions) == len(seqs[0])
        rows = [out.cross_attentions[t][layer][0, :, 0, :].mean(0) for t in range(len(seqs[0]))]
        entry["min_margin"] = greedy_min_margin(out.scores)
    else:
        entry["scores"] = f32list(out.sequences_scores)
        bi = out.beam_indices[0].tolist()
        assert all(b >= 0 for b in bi[: len(seqs[0])])
        rows = [out.cross_attentions[t][layer][bi[t], :, 0, :].mean(0) for t in range(len(seqs[0]))]
    entry["cross_attentions"] = [f32list(r) for r in rows]
    return entry


def perturbed(model, seed):
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "embed_positions" not in n:
                p.mul_(1 + PERTURBATION * torch.randn(p.shape, generator=g))
    return m


def candidate_inputs(spec, pad):
    """Deterministic source inputs: lengths 1..14 (trailing eos), ids in [2, vocab) minus pad."""
    g = torch.Generator().manual_seed(1000 + spec["seed"])
    hi = spec["vocab"]  # encoder vocabulary (larger than the decoder's in separate-vocabs)
    order = [1, 14, 5, 9, 3, 12, 7, 2, 11, 6, 13, 4, 8, 10]
    for i in range(MAX_CANDIDATES):
        n = order[i % len(order)]
        ids = []
        while len(ids) < n - 1:
            x = int(torch.randint(2, hi, (1,), generator=g))
            if x != pad:
                ids.append(x)
        yield ids + [0]


def select_cases(name, model, inputs, pad, record=None, sequences=None):
    """Records up to CASES_PER_MODEL of `inputs` whose outputs are robust, with a mix of greedy outputs that stop by
    eos and that hit max_length. A case is kept only if float64 and slightly perturbed float32 models give the same
    ids: xlate's float32 arithmetic differs from torch's in rounding, and near-ties would make tests flaky.
    `record` / `sequences` replace record_generation / sequences_of (the T5 generator passes its own).
    Returns (cases, number rejected)."""
    record = record or record_generation
    sequences = sequences or sequences_of
    checks = [copy.deepcopy(model).double(), perturbed(model, 1), perturbed(model, 2)]
    cases, rejected, seen = [], 0, set()
    n_max = n_early = n_beam_max = 0
    for ids in inputs:
        if len(cases) >= CASES_PER_MODEL:
            break
        x = torch.tensor([ids])
        gens = [record(model, x, o) for o in OPTION_SETS]
        greedy = tuple(gens[0]["sequences"][0])
        at_max = len(greedy) == MAX_LENGTH - 1
        beam_at_max = len(gens[1]["sequences"][0]) == MAX_LENGTH - 1
        # Keep a mix: greedy and beam outputs that stop early by eos and some that hit max_length.
        if (greedy in seen or (at_max and n_max >= 3) or (not at_max and n_early >= CASES_PER_MODEL - 2)
                or (beam_at_max and n_beam_max >= CASES_PER_MODEL - 3)):
            rejected += 1
            continue
        fragile = gens[0]["min_margin"] < MIN_GREEDY_MARGIN or any(
            sequences(other, x, o) != g["sequences"] for other in checks for o, g in zip(OPTION_SETS, gens))
        if fragile:
            rejected += 1
            continue
        seen.add(greedy)
        n_max += at_max
        n_early += not at_max
        n_beam_max += beam_at_max
        with torch.no_grad():
            enc = model.get_encoder()(input_ids=x).last_hidden_state[0]
            logits = model(input_ids=x, decoder_input_ids=torch.tensor([[pad]])).logits[0, -1]
        cases.append({
            "input_ids": ids,
            "encoder_output": f32list(enc),
            "first_step_logits": f32list(logits),
            "generations": gens,
        })
    if len(cases) < 6:
        raise RuntimeError(f"{name}: only {len(cases)} robust cases ({rejected} rejected)")
    return cases, rejected


def record_batch(model, cases, pad, run=None, sequences=None, eos=0):
    """Greedy and beam-4 outputs for three of `cases` of different lengths, generated together (right-padded with
    `pad` + attention mask), and whether they equal the unbatched outputs. `run` / `sequences` replace generate /
    sequences_of."""
    run = run or generate
    sequences = sequences or sequences_of
    chosen = sorted(cases, key=lambda c: len(c["input_ids"]))
    batch_inputs = [chosen[-1]["input_ids"], chosen[len(chosen) // 2]["input_ids"], chosen[1]["input_ids"]]
    width = max(len(b) for b in batch_inputs)
    ids = torch.tensor([b + [pad] * (width - len(b)) for b in batch_inputs])
    mask = torch.tensor([[1] * len(b) + [0] * (width - len(b)) for b in batch_inputs])
    batch = {"input_ids": batch_inputs}
    for key, beams in (("greedy", 1), ("beam4", 4)):
        out = run(model, ids, dict(OPTION_SETS[0], num_beams=beams), attention_mask=mask)
        batch[key] = [cut_after_eos(r[1:].tolist(), eos=eos) for r in out.sequences]
    by_input = {tuple(c["input_ids"]): c for c in cases}
    batch["matches_unbatched"] = all(
        batch["greedy"][i] == by_input[tuple(b)]["generations"][0]["sequences"][0]
        and [batch["beam4"][i]] == sequences(model, torch.tensor([b]), dict(OPTION_SETS[0], num_beams=4))
        for i, b in enumerate(batch_inputs))
    return batch


def make_tiny(spec):
    name = spec["name"]
    folder = os.path.join(HERE, "marian", name)
    built = build_tiny(spec)
    write_checkpoint(built, spec, folder)
    make_readable(folder)
    model = load_reference(folder, built)
    pad = model.config.pad_token_id
    cases, rejected = select_cases(name, model, candidate_inputs(spec, pad), pad)
    batch = record_batch(model, cases, pad)
    batch_matches = batch["matches_unbatched"]

    write_json(os.path.join(folder, "reference.json"), {
        "format": FORMAT,
        "model": name,
        "generator": GENERATOR,
        "notes": "float32 model (weights = stored values), eager attention; sequences exclude the decoder start "
                 "token and end at the first eos; cross_attentions = last decoder layer, mean over heads, row i "
                 "while predicting token i of sequences[0]; greedy min_margin = smallest top1-top2 processed logit.",
        "cases": cases,
        "batch": batch,
    })
    greedy_lens = [len(c["generations"][0]["sequences"][0]) for c in cases]
    return dict(name=name, cases=len(cases), rejected=rejected, greedy_lengths=greedy_lens,
                batch_matches=batch_matches)


# MARK: - Bundled models ------------------------------------------------------------------------

STRESS = {
    "en": [
        "",
        "I love 🍕 and 寿司 — don't you?",
        'He said: "It costs $1,299.99 (about 1.200 €), i.e. 15% off!" — at 10:30 on 2024-05-01.',
        "Café naïve façade: ÜBER-GRÖSSE, 3×4=12; x² ≥ 0 … OK?!",
    ],
    "de": [
        "",
        "Ich liebe 🍕 und 寿司 – du nicht?",
        "Er sagte: „Das kostet 1.299,99 € (ca. 1,200 $), also 15 % Rabatt!“ – um 10:30 Uhr am 01.05.2024.",
        "Straße, Größe, Übermaß: ÄÖÜ äöü ß; 3×4=12 … OK?!",
    ],
}


def candidate_sentences(src):
    """(group, quota, candidates in order): spares follow, to replace near-tie sentences."""
    with open(os.path.join(SHARED, "eval", f"tatoeba-test.{src}"), encoding="utf-8") as f:
        tatoeba = [l.rstrip("\n") for l in f]
    # The first lines, in file order, short (<= 6 words) and medium (7-25 words) about evenly.
    picked, short, medium = [], 0, 0
    for line in tatoeba:
        n = len(line.split())
        if line in picked or n == 0:
            continue
        if n <= 6 and short < 24:
            short += 1
        elif 7 <= n <= 25 and medium < 23:
            medium += 1
        else:
            continue
        picked.append(line)
        if len(picked) == 47:
            break
    with open(os.path.join(SHARED, "eval", f"newstest2014.{src}"), encoding="utf-8") as f:
        news = [l.rstrip("\n") for l in f]
    long_lines = list(dict.fromkeys(l for l in news if 20 <= len(l.split()) <= 60))
    step = len(long_lines) // 25
    spread = long_lines[::step][:25] + long_lines[step // 2::step][:15]
    return [("tatoeba", 35, picked), ("newstest2014", 25, spread), ("stress", None, STRESS[src])]


MIN_BUNDLED_MARGIN = 1e-3


def make_bundled(src, tgt):
    name = f"xlate-{src}-{tgt}"
    path = os.path.join(SHARED, "models", name)
    tok = MarianTokenizer.from_pretrained(path)
    # from_pretrained without dtype would load the stored float16 (config "dtype": "float16").
    model = MarianMTModel.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()
    assert model.dtype == torch.float32 and all(p.dtype == torch.float32 for p in model.parameters())
    # Same weights, other attention kernel: a second float32 computation with different rounding.
    sdpa = MarianMTModel.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    cases, skipped, kept_fragile = [], [], 0
    for group, quota, sentences in candidate_sentences(src):
        taken = 0
        for source in sentences:
            if quota is not None and taken == quota:
                break
            input_ids = tok(source).input_ids
            x = torch.tensor([input_ids])
            case = {"source": source, "input_ids": input_ids, "source_pieces": tok.tokenize(source)}
            robust = True
            for key, beams in (("greedy", 1), ("beam4", 4)):
                with torch.no_grad():
                    out = model.generate(input_ids=x, num_beams=beams, return_dict_in_generate=True, output_scores=True)
                    other = sdpa.generate(input_ids=x, num_beams=beams)
                ids = cut_after_eos(out.sequences[0, 1:].tolist())
                entry = {"ids": ids, "text": tok.decode(ids, skip_special_tokens=True)}
                if beams == 1:
                    entry["min_margin"] = greedy_min_margin(out.scores)
                    robust &= entry["min_margin"] >= MIN_BUNDLED_MARGIN
                else:
                    entry["score"] = float(out.sequences_scores[0])
                robust &= cut_after_eos(other[0, 1:].tolist()) == ids
                case[key] = entry
            if not robust and quota is not None:
                skipped.append(source)
                continue
            kept_fragile += not robust
            case["group"] = group
            cases.append(case)
            taken += 1
        if quota is not None and taken < quota:
            raise RuntimeError(f"{name}: only {taken} robust {group} sentences")
    write_json(os.path.join(HERE, "bundled", f"{src}-{tgt}.json"), {
        "format": FORMAT,
        "model": name,
        "generator": GENERATOR,
        "notes": "MarianMTModel.from_pretrained(dtype=float32, attn_implementation='eager'), model's "
                 "generation_config (max_length 256, bad_words [[pad]], forced eos), one sentence per call; "
                 "ids exclude the start token and end at eos; text = decode(ids, skip_special_tokens=True); "
                 "greedy min_margin = smallest top1-top2 processed logit. Sentences whose greedy margin is "
                 f"below {MIN_BUNDLED_MARGIN} or whose ids change with sdpa attention were replaced by spares.",
        "cases": cases,
    })
    return dict(name=name, cases=len(cases), skipped=skipped, kept_fragile=kept_fragile,
                greedy_at_max=sum(len(c["greedy"]["ids"]) == model.generation_config.max_length - 1 for c in cases))


# MARK: - Tokenizer cases -------------------------------------------------------------------------

TOKENIZER_TEXTS = [
    "",
    " ",
    "   \t  ",
    "\n",
    "Hello world!",
    " Hello world! ",
    "Hello    world",
    "  leading and trailing  ",
    "tab\tseparated\twords",
    "line one\nline two",
    "carriage\r\nreturn",
    "Café",                       # NFC
    "Cafe\u0301",                 # NFD: e + combining acute
    "Straße Größe Übermaß äöü ÄÖÜ",
    "ﬁne ﬂower",                 # ligatures (NFKC)
    "ＡＢＣ　１２３",              # full-width letters, digits and ideographic space
    "I love 🍕 and 😀!",
    "日本語のテキスト 寿司",
    "Ünïcödé ñ ç ø å",
    "ctrl\x01char\x07bell\x1b[0m",
    "zero\u200bwidth\u00a0nbsp",
    "\"double\" 'single' „German“ «French» ‘curly’ “quotes”",
    "dash - en – em — minus −",
    "3.14159 1,000,000 1.000.000,50 -42 +7 1e-5 50%",
    "2024-05-01 10:30:00 $12.99 €5 £3",
    "e-mail: someone@example.com, https://example.com/a?b=c",
    ">>de<< Hallo Welt",
    ">>de<<Hallo",
    ">>fra<< bonjour",
    "text >>de<< middle",
    ">> not a code",
    "<unk> literal",
    "a </s> b",
    "<pad>",
    "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichenherstellungsbetrieb",
    "x" * 200,
    "Hello world!!!??? ...",
    "(parentheses) [brackets] {braces} <angle>",
    "I'm can't won't it's",
    "The quick brown fox jumps over the lazy dog.",
    "Ich habe keine Ahnung, was du meinst.",
]


def make_tokenizer_cases():
    path = os.path.join(SHARED, "models", "xlate-en-de")
    tok = MarianTokenizer.from_pretrained(path)
    encode = [{"text": t, "pieces": tok.tokenize(t), "ids": tok(t).input_ids} for t in TOKENIZER_TEXTS]
    hello = tok("Hello world!").input_ids
    fox = tok("The quick brown fox jumps over the lazy dog.").input_ids
    de = tok("Ich habe keine Ahnung, was du meinst.").input_ids
    quotes = tok("\"double\" „German“ — 3.14 50%").input_ids
    unk = tok.unk_token_id
    eos = tok.eos_token_id
    pad = tok.pad_token_id
    space = tok.convert_tokens_to_ids("▁")
    dec_ids = [
        [],
        [eos],
        hello,
        hello[:-1],
        fox,
        de,
        quotes,
        [unk] + hello,
        hello[:2] + [unk] + hello[2:],
        hello[:-1] + [unk, eos],
        hello[:2] + [eos] + hello[2:],
        [pad] + hello,
        [pad, pad, eos],
        [space, space] + hello,
        hello[:-1] + [space, eos],
        [unk, unk],
        fox[:3] + [eos, eos],
        de[::-1],
        list(range(2, 22)),
        list(range(15979, 15999)),
    ]
    decode = [{"ids": ids, "skip_special_tokens": True, "text": tok.decode(ids, skip_special_tokens=True)}
              for ids in dec_ids]
    for ids in ([unk] + hello, hello[:2] + [eos] + hello[2:], [pad] + hello):
        decode.append({"ids": ids, "skip_special_tokens": False,
                       "text": tok.decode(ids, skip_special_tokens=False)})
    write_json(os.path.join(ROOT, "Vocab", "tokenizer-cases.json"), {
        "format": FORMAT,
        "tokenizer": "MarianTokenizer(../shared/models/xlate-en-de)",
        "generator": GENERATOR,
        "notes": "encode: pieces = tokenizer.tokenize(text), ids = tokenizer(text).input_ids (eos appended); "
                 "decode: tokenizer.decode(ids, skip_special_tokens=...). See Fixtures/NOTES.md.",
        "encode": encode,
        "decode": decode,
    })
    return dict(encode=len(encode), decode=len(decode))


# MARK: - Main ------------------------------------------------------------------------------------


def prepare_run(script, args):
    """Every generator's start: the pinned torch and transformers (else exit, unless --allow-other-versions), one
    thread, quiet transformers, seed 0."""
    have = {"torch": TORCH_VERSION, "transformers": transformers.__version__}
    if have != PINNED and not args.allow_other_versions:
        sys.exit(f"{script}: need {PINNED}, have {have}; pip install -r Fixtures/requirements.txt")
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()  # e.g. "both max_new_tokens and max_length set": intended
    torch.manual_seed(0)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=["tiny", "bundled", "tokenizer"])
    ap.add_argument("--allow-other-versions", action="store_true")
    args = ap.parse_args()
    prepare_run("generate.py", args)
    parts = args.only or ["tiny", "bundled", "tokenizer"]
    t0 = time.time()
    if "tiny" in parts:
        for spec in TINY_MODELS:
            r = make_tiny(spec)
            print(f"tiny {r['name']}: {r['cases']} cases ({r['rejected']} candidates rejected), greedy lengths "
                  f"{r['greedy_lengths']}, batch matches unbatched: {r['batch_matches']}", flush=True)
    if "bundled" in parts:
        for src, tgt in (("en", "de"), ("de", "en")):
            r = make_bundled(src, tgt)
            print(f"bundled {r['name']}: {r['cases']} cases, greedy at max length: {r['greedy_at_max']}, "
                  f"near-tie sentences replaced: {len(r['skipped'])} {r['skipped']}, "
                  f"stress lines that are near ties: {r['kept_fragile']}", flush=True)
    if "tokenizer" in parts:
        r = make_tokenizer_cases()
        print(f"tokenizer: {r['encode']} encode, {r['decode']} decode cases", flush=True)
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
