#!/usr/bin/env python3
"""Regenerate xlate's mBART-50 reference fixture with Hugging Face transformers.

Run from the repository root (``make fixtures`` runs it after generate_m2m100.py)::

    python Fixtures/generate_mbart50.py

Writes, replacing what was there, ``Fixtures/mbart50/mbart50-tiny/``: a tiny random ``mbart`` checkpoint
(config.json, generation_config.json with ``forced_bos_token_id`` = ``de_DE`` and ``forced_eos_token_id``,
safetensors: pre-norm layers, learned positions from row 2, ``layernorm_embedding``, final norms,
``final_logits_bias``) with ``MBart50Tokenizer`` files (``sentencepiece.bpe.model``, a unigram SentencePiece model of
200 pieces trained here on Tatoeba sentences, ``tokenizer.json``: fairseq ids = SentencePiece ids + 1, ``en_XX``
codes after them), and ``reference.json`` in the format of ``Fixtures/m2m100/*/reference.json`` (see
generate_m2m100.py, whose helpers this script reuses).

Pinned versions: Fixtures/requirements.txt. Everything is seeded; CPU only, one thread, so reruns give the same bytes.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import transformers
from safetensors.torch import save_file
from transformers import GenerationConfig, MBartConfig, MBartForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import MAX_LENGTH, prepare_run  # noqa: E402
from generate_m2m100 import BOS, EOS, HP, PAD, make_tiny, randomize_bart_weights  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "mbart50")
MAX_POSITIONS = 64

TINY_MODELS = [
    dict(name="mbart50-tiny", tokenizer="mbart50", d=32, heads=4, ffn=64, enc=2, dec=2, seed=71, eos_bias=7.0,
         dtype=torch.float32, scale=True),
]


def build_tiny(spec, vocab_size, forced_bos):
    d, hp = spec["d"], HP
    cfg = MBartConfig(
        vocab_size=vocab_size, d_model=d, encoder_layers=spec["enc"], decoder_layers=spec["dec"],
        encoder_attention_heads=spec["heads"], decoder_attention_heads=spec["heads"], encoder_ffn_dim=spec["ffn"],
        decoder_ffn_dim=spec["ffn"], activation_function="gelu", scale_embedding=spec["scale"],
        max_position_embeddings=MAX_POSITIONS, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS,
        decoder_start_token_id=EOS, forced_eos_token_id=EOS, dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, encoder_layerdrop=0.0, decoder_layerdrop=0.0, attn_implementation="eager")
    torch.manual_seed(spec["seed"])
    model = MBartForConditionalGeneration(cfg).eval()
    g = torch.Generator().manual_seed(spec["seed"])
    emb_std = hp["emb"] / (math.sqrt(d) if spec["scale"] else 1.0)
    gamma = hp["logit_std"] / (emb_std * math.sqrt(d))
    randomize_bart_weights(model, g, hp, gamma, emb_std, "model.decoder.layer_norm.weight", spec["eos_bias"])
    model.generation_config = GenerationConfig(
        max_length=MAX_LENGTH, decoder_start_token_id=EOS, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
        forced_bos_token_id=forced_bos, forced_eos_token_id=EOS)
    return model


def write_checkpoint(model, spec, folder):
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    cfg_path = os.path.join(folder, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["dtype"] = "float32"
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    # As facebook/mbart-large-50-many-to-many-mmt stores it: the shared embedding, its embed_tokens copies, no lm_head.
    tensors.pop("lm_head.weight", None)
    tensors["model.encoder.embed_tokens.weight"] = tensors["model.shared.weight"].clone()
    tensors["model.decoder.embed_tokens.weight"] = tensors["model.shared.weight"].clone()
    save_file(dict(sorted(tensors.items())), os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})


def load_reference(folder, built):
    model = MBartForConditionalGeneration.from_pretrained(folder, dtype=torch.float32,
                                                          attn_implementation="eager").eval()
    ref = dict(built.named_parameters())
    ref.update(dict(built.named_buffers()))
    for n, p in list(model.named_parameters()) + list(model.named_buffers()):
        if n in ref and not torch.equal(p, ref[n]):
            raise RuntimeError(f"{folder}: {n} differs after save/load")
    assert model.lm_head.weight is model.model.shared.weight
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--allow-other-versions", action="store_true")
    args = ap.parse_args()
    prepare_run("generate_mbart50.py", args)
    t0 = time.time()
    for spec in TINY_MODELS:
        r = make_tiny(spec, build_tiny, write_checkpoint, load_reference, OUT)
        print(f"mbart50 {r['name']}: {r['cases']} cases ({r['rejected']} candidates rejected), greedy lengths "
              f"{r['greedy_lengths']}, batch matches unbatched: {r['batch_matches']}, end to end: "
              f"{r['end_to_end']}, files: {r['files']}", flush=True)
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
