#!/usr/bin/env python3
"""Regenerate xlate's M2M100 and NLLB-200 reference fixtures with Hugging Face transformers.

Run from the repository root (``make fixtures`` runs it after generate_t5.py)::

    python Fixtures/generate_m2m100.py

Writes, replacing what was there:

* ``Fixtures/m2m100/<name>/``  tiny random ``m2m_100`` checkpoints (config.json, generation_config.json with
  ``forced_bos_token_id`` = the German language token, safetensors) with their tokenizer files, and
  ``reference.json`` in the format of ``Fixtures/marian/*/reference.json`` (encoder output, first-step logits,
  greedy / beam outputs with scores and cross-attention, a batch), plus:
  - ``tokenizer``: encode cases (``tokenizer(text).input_ids`` with ``src_lang``, and ``text_target`` with
    ``tgt_lang``) and decode cases (``decode(ids, skip_special_tokens=True)``), and the language token ids;
  - ``end_to_end``: text in, text out (``decode(generate(tokenizer(text), forced_bos_token_id=lang id),
    skip_special_tokens=True)``), greedy and beam 4, for en → de and de → en.
  ``m2m100-tiny`` has ``M2M100Tokenizer`` files (``vocab.json`` + ``sentencepiece.bpe.model``, ``__en__``
  codes); ``nllb-tiny`` has ``NllbTokenizer`` files (``tokenizer.json`` and ``sentencepiece.bpe.model``,
  ``eng_Latn`` codes, ids = SentencePiece ids + 1). Both SentencePiece models are BPE models of 200 pieces trained
  here on Tatoeba sentences.

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
from transformers import (AutoTokenizer, GenerationConfig, M2M100Config, M2M100ForConditionalGeneration,
                          M2M100Tokenizer, MBart50Tokenizer, NllbTokenizer)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import (FORMAT, GENERATOR, MAX_LENGTH, OPTION_SETS, SHARED, cut_after_eos, f32list,  # noqa: E402
                      greedy_min_margin, make_readable, perturbed, prepare_run, record_batch, select_cases,
                      write_json)
from generate_t5 import generate  # noqa: E402  (a cache that grows per layer: any layer counts)
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as NLLB_LANGUAGE_CODES  # noqa: E402
from transformers.models.mbart50.tokenization_mbart50 import FAIRSEQ_LANGUAGE_CODES as MBART50_LANGUAGE_CODES  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "m2m100")
BOS, PAD, EOS, UNK = 0, 1, 2, 3
SPM_PIECES = 200
MAX_CANDIDATES = 96

# Gains (x 1/sqrt(fan_in)) of q+k, v, self-attention out, cross-attention out, fc1, fc2; emb: std of the token
# embeddings; logit_std: target std of the logits, reached through the decoder's final layer_norm weight; the
# layer_norm's bias holds dimension 0 at `const`, through which `eos_push` (added to the eos row of the tied
# output there) makes eos likely in an input-dependent way.
HP = dict(qk=3.0, v=1.0, ao=1.5, cao=2.5, f1=1.5, f2=2.0, emb=1.0, logit_std=3.0, const=4.0)

TINY_MODELS = [
    dict(name="m2m100-tiny", tokenizer="m2m100", d=32, heads=4, ffn=64, enc=2, dec=3, seed=81, eos_push=5.0,
         dtype=torch.float32, scale=True),
    dict(name="nllb-tiny", tokenizer="nllb", d=32, heads=2, ffn=48, enc=3, dec=2, seed=93, eos_push=6.0,
         dtype=torch.float16, scale=True),
]

TOKENIZER_TEXTS = [
    "", " ", "Hello world!", " Hello   world! ", "The cat sat on the mat.", "Ich habe keine Ahnung.",
    "Straße Größe Übermaß", "ﬁne ＡＢＣ　１２３", "I love 🍕 and 寿司!", "tab\tseparated\nlines",
    "x</s>y <unk> <pad>z", "<s> start", "3.14 1,000 -42 50%", "Donaudampfschifffahrt", "__de__ Hallo eng_Latn deu_Latn",
]



def projection_gain(name, hp):
    """The gain of a projection matrix `name` (scaled by 1/sqrt(fan-in)): attention q/k, v, self- and
    cross-attention output, and the two feed-forward layers each have their own (HP)."""
    return (hp["qk"] if ("q_proj" in name or "k_proj" in name) else hp["v"] if "v_proj" in name
            else hp["cao"] if "encoder_attn.out_proj" in name else hp["ao"] if "out_proj" in name
            else hp["f1"] if "fc1" in name else hp["f2"])


def randomize_bart_weights(model, g, hp, gamma, emb_std, scaled_norm, eos_bias):
    """BART and mBART-50's tiny weights (same draw order as M2M100's): `scaled_norm`, the layer norm before the
    output projection, carries `gamma` (the logits' spread); `final_logits_bias` favours </s> by `eos_bias`."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if n == scaled_norm:
                p.copy_(gamma * (1 + 0.2 * r))
            elif n.endswith("layer_norm.weight") or n.endswith("layernorm_embedding.weight"):
                p.copy_(1 + 0.2 * r)
            elif n.endswith(".bias"):
                p.copy_(0.1 * r)
            elif n == "model.shared.weight":
                p.copy_(emb_std * r)
                p[PAD] = 0.0
            elif "embed_positions" in n:
                p.copy_(0.5 * r)
            elif n.endswith(".weight"):
                p.copy_(projection_gain(n, hp) / math.sqrt(p.shape[1]) * r)
            else:
                raise RuntimeError(f"unexpected parameter {n}")
        bias = 0.1 * torch.randn(model.final_logits_bias.shape, generator=g)
        bias[0, EOS] += eos_bias
        model.final_logits_bias.copy_(bias)

def decoded(tok, kind, ids):
    """decode(ids, skip_special_tokens=True), language tokens left out first for M2M100: transformers 5.23's
    M2M100Tokenizer does not register them as special tokens (tokenizer_config.json's extra_special_tokens is empty),
    so its decode would write them out as text ('__de__ Hallo'); xlate drops them, as every other special token."""
    if kind == "m2m100":
        ids = [i for i in ids if i not in tok.id_to_lang_token]
    return tok.decode(ids, skip_special_tokens=True)


# MARK: - Tokenizers -------------------------------------------------------------------------------

def train_spm(prefix, model_type="bpe"):
    """A tiny fairseq-style SentencePiece model (<unk> 0, <s> 1, </s> 2) trained on Tatoeba sentences (BPE as
    M2M100's and NLLB's; mBART-50's is a unigram model)."""
    lines = []
    for lang in ("en", "de"):
        with open(os.path.join(SHARED, "eval", f"tatoeba-test.{lang}"), encoding="utf-8") as f:
            lines += f.read().splitlines()[:3000]
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=prefix, vocab_size=SPM_PIECES, model_type=model_type,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, character_coverage=1.0, num_threads=1,
        normalization_rule_name="nmt_nfkc", minloglevel=2)
    os.remove(prefix + ".vocab")
    return prefix + ".model"


def make_tokenizer(kind, folder):
    """Writes the tokenizer files into `folder` and returns the loaded tokenizer (as AutoTokenizer loads it)."""
    spm_path = train_spm(os.path.join(folder, "sentencepiece.bpe"), "unigram" if kind == "mbart50" else "bpe")
    if kind == "mbart50":
        tok = MBart50Tokenizer.from_pretrained(folder, src_lang="en_XX", tgt_lang="de_DE")
    elif kind == "m2m100":
        # vocab.json as fairseq's dictionary: the four specials, then the pieces in another order than the
        # SentencePiece ids (reversed), so that only vocab.json gives the right ids.
        spm = sentencepiece.SentencePieceProcessor(model_file=spm_path)
        pieces = [spm.id_to_piece(i) for i in range(3, spm.get_piece_size())]
        vocab = {"<s>": BOS, "<pad>": PAD, "</s>": EOS, "<unk>": UNK}
        for piece in reversed(pieces):
            vocab[piece] = len(vocab)
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False, indent=2)
        tok = M2M100Tokenizer(os.path.join(folder, "vocab.json"), spm_path, src_lang="en", tgt_lang="de")
    else:
        # The language codes must be given: converting a bare SentencePiece model, transformers 5.23 would otherwise
        # take extra_special_tokens = [<s>, </s>] and map every language code to <unk>.
        tok = NllbTokenizer.from_pretrained(folder, src_lang="eng_Latn", tgt_lang="deu_Latn",
                                            extra_special_tokens=list(NLLB_LANGUAGE_CODES))
    tok.save_pretrained(folder)
    loaded = AutoTokenizer.from_pretrained(folder)
    if kind != "m2m100":
        ids = [loaded.convert_tokens_to_ids(code) for code in language_list(kind)]
        assert len(set(ids)) == len(ids) and loaded.unk_token_id not in ids, "language tokens missing"
    return loaded


def language_ids(tok, kind):
    if kind == "m2m100":
        return {code: tok.get_lang_id(code) for code in tok.lang_code_to_id}
    return {code: tok.convert_tokens_to_ids(code) for code in language_list(kind)}


def language_list(kind):
    return NLLB_LANGUAGE_CODES if kind == "nllb" else MBART50_LANGUAGE_CODES


def codes(kind):
    return {"m2m100": ("en", "de"), "nllb": ("eng_Latn", "deu_Latn"), "mbart50": ("en_XX", "de_DE")}[kind]


def tokenizer_cases(tok, kind):
    src, tgt = codes(kind)
    tok.src_lang, tok.tgt_lang = src, tgt
    encode = []
    for text in TOKENIZER_TEXTS:
        ids = tok(text).input_ids
        target = tok(text_target=text).input_ids
        encode.append({"text": text, "ids": ids, "pieces": tok.convert_ids_to_tokens(ids), "target_ids": target})
    tok.src_lang = tgt
    encode.append({"text": "Ich habe keine Ahnung.", "src_lang": tgt, "ids": tok("Ich habe keine Ahnung.").input_ids})
    tok.src_lang = src
    hello = tok("Hello world!").input_ids
    lang = language_ids(tok, kind)
    size = len(tok)
    dec_ids = [[], [EOS], hello, hello[1:], [lang[tgt]] + hello[1:], [PAD, UNK] + hello, hello[:2] + [EOS] + hello[2:],
               [BOS] + hello, list(range(4, 30)), hello[::-1], [size - 1, 7, 9, EOS]]
    decode = [{"ids": ids, "text": decoded(tok, kind, ids), "transformers_text": tok.decode(ids, skip_special_tokens=True)}
              for ids in dec_ids]
    return dict(encode=encode, decode=decode, languages=lang, size=size)


# MARK: - Tiny random checkpoints -------------------------------------------------------------------

def build_tiny(spec, vocab_size, forced_bos):
    d, hp = spec["d"], HP
    cfg = M2M100Config(
        vocab_size=vocab_size, d_model=d, encoder_layers=spec["enc"], decoder_layers=spec["dec"],
        encoder_attention_heads=spec["heads"], decoder_attention_heads=spec["heads"], encoder_ffn_dim=spec["ffn"],
        decoder_ffn_dim=spec["ffn"], activation_function="relu", scale_embedding=spec["scale"],
        max_position_embeddings=64, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, decoder_start_token_id=EOS,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, encoder_layerdrop=0.0, decoder_layerdrop=0.0,
        attn_implementation="eager")
    torch.manual_seed(spec["seed"])
    model = M2M100ForConditionalGeneration(cfg).eval()
    g = torch.Generator().manual_seed(spec["seed"])
    emb_std = hp["emb"] / (math.sqrt(d) if spec["scale"] else 1.0)
    gamma = hp["logit_std"] / (emb_std * math.sqrt(d))
    final = "model.decoder.layer_norm"
    with torch.no_grad():
        for n, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if n == final + ".weight":
                p.copy_(gamma * (1 + 0.2 * r))
                p[0] = 0.0
            elif n == final + ".bias":
                p.copy_(0.1 * gamma * r)
                p[0] = hp["const"]
            elif n.endswith("layer_norm.weight"):
                p.copy_(1 + 0.2 * r)
            elif n.endswith("layer_norm.bias") or n.endswith(".bias"):
                p.copy_(0.1 * r)
            elif n == "model.shared.weight":
                p.copy_(emb_std * r)
                p[PAD] = 0.0
            elif n.endswith(".weight"):
                p.copy_(projection_gain(n, hp) / math.sqrt(p.shape[1]) * r)
            else:
                raise RuntimeError(f"unexpected parameter {n}")
        # Push eos through the constant dimension 0 of the final hidden state (tied output: also the eos input).
        model.model.shared.weight[EOS, 0] += spec["eos_push"] / hp["const"]
        if spec["dtype"] != torch.float32:
            for p in model.parameters():
                p.copy_(p.to(spec["dtype"]).to(torch.float32))
    model.generation_config = GenerationConfig(
        max_length=MAX_LENGTH, decoder_start_token_id=EOS, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
        forced_bos_token_id=forced_bos)
    return model


def write_checkpoint(model, spec, folder):
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    cfg_path = os.path.join(folder, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["dtype"] = {torch.float32: "float32", torch.float16: "float16"}[spec["dtype"]]
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    tensors = {k: v.detach().clone().contiguous().to(spec["dtype"]) for k, v in model.state_dict().items()
               if "embed_positions" not in k}
    # What save_pretrained writes for the tied model: the shared embedding only.
    for key in ("lm_head.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"):
        tensors.pop(key, None)
    save_file(dict(sorted(tensors.items())), os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})


def load_reference(folder, built):
    model = M2M100ForConditionalGeneration.from_pretrained(folder, dtype=torch.float32,
                                                           attn_implementation="eager").eval()
    ref = dict(built.named_parameters())
    for n, p in model.named_parameters():
        assert p.dtype == torch.float32, (n, p.dtype)
        if not torch.equal(p, ref[n]):
            raise RuntimeError(f"{folder}: {n} differs after save/load")
    assert model.lm_head.weight is model.model.shared.weight
    return model


def record_generation(model, input_ids, opts):
    out = generate(model, input_ids, opts)
    seqs = [cut_after_eos(row[1:].tolist(), eos=EOS) for row in out.sequences]
    entry = {"options": dict(opts), "sequences": seqs}
    layer = -1
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


def candidate_inputs(spec, source_lang_id, vocab_size):
    """[source language] ids </s>, ids in [4, vocab); the first candidates hold a <pad> inside, whose position
    M2M100 skips (create_position_ids_from_input_ids)."""
    g = torch.Generator().manual_seed(1000 + spec["seed"])
    order = [9, 1, 14, 5, 3, 12, 7, 2, 11, 6, 13, 4, 8, 10]
    for i in range(MAX_CANDIDATES):
        n = order[i % len(order)]
        ids = [int(torch.randint(4, vocab_size, (1,), generator=g)) for _ in range(n - 1)]
        if i < 3 and len(ids) > 2:
            ids[len(ids) // 2] = PAD
        yield [source_lang_id] + ids + [EOS]


END_TO_END = {
    "en": ["Hello world.", "I like tea.", "The cat sat on the mat.", "Where is the station?", "He is my friend.",
           "We are going home now.", "Tom can't swim.", "What time is it?", "I don't know.", "This book is red."],
    "de": ["Hallo Welt.", "Ich trinke gern Tee.", "Wo ist der Bahnhof?", "Er ist mein Freund.", "Wie spät ist es?",
           "Ich weiß es nicht.", "Dieses Buch ist rot.", "Tom kann nicht schwimmen."],
}


def make_end_to_end(model, tok, kind, lang):
    """Text in, text out, greedy and beam 4 (generation_config defaults otherwise), as the CLI runs it."""
    checks = [copy.deepcopy(model).double(), perturbed(model, 1), perturbed(model, 2)]
    iso = {"en": codes(kind)[0], "de": codes(kind)[1]}
    cases = []
    for source, target in (("en", "de"), ("de", "en")):
        tok.src_lang = iso[source]
        for text in END_TO_END[source]:
            x = torch.tensor([tok(text).input_ids])
            case = {"src": source, "tgt": target, "text": text, "input_ids": x[0].tolist()}
            robust = True
            for key, beams in (("greedy", 1), ("beam4", 4)):
                opts = dict(OPTION_SETS[0], num_beams=beams)
                model.generation_config.forced_bos_token_id = lang[iso[target]]
                for other in checks:
                    other.generation_config.forced_bos_token_id = lang[iso[target]]
                out = generate(model, x, opts)
                ids = cut_after_eos(out.sequences[0, 1:].tolist(), eos=EOS)
                robust &= all(sequences_of(other, x, opts)[0] == ids for other in checks)
                if beams == 1:
                    robust &= greedy_min_margin(out.scores) >= 5e-4
                case[key] = {"ids": ids, "text": decoded(tok, kind, ids)}
            if robust:
                cases.append(case)
    tok.src_lang = iso["en"]
    return cases


def make_tiny(spec, build=None, write=None, load=None, out=OUT):
    """The fixture folder of `spec`: tokenizer, checkpoint (`build` / `write` / `load`: this file's M2M100 ones
    unless given, as generate_mbart50.py gives its own), reference.json."""
    build, write, load = build or build_tiny, write or write_checkpoint, load or load_reference
    name, kind = spec["name"], spec["tokenizer"]
    folder = os.path.join(out, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    tok = make_tokenizer(kind, folder)
    lang = language_ids(tok, kind)
    src, tgt = codes(kind)
    # As the released models: M2M100's vocabulary is vocab.json, the language tokens and 8 `madeupword`s; NLLB's is
    # larger than its tokenizer too.
    vocab_size = max(len(tok), max(lang.values()) + 1) + (8 if kind == "m2m100" else 3)
    built = build(spec, vocab_size, forced_bos=lang[tgt])
    write(built, spec, folder)
    make_readable(folder)
    model = load(folder, built)
    model.generation_config.forced_bos_token_id = lang[tgt]
    # select_cases records first-step logits after its `pad` argument: here the decoder start </s>.
    cases, rejected = select_cases(name, model, candidate_inputs(spec, lang[src], vocab_size), EOS,
                                   record_generation, sequences_of)
    batch = record_batch(model, cases, PAD, generate, sequences_of, eos=EOS)
    tokenizer = tokenizer_cases(tok, kind)
    end_to_end = make_end_to_end(model, tok, kind, lang)
    write_json(os.path.join(folder, "reference.json"), {
        "format": FORMAT,
        "model": name,
        "generator": GENERATOR,
        "notes": "float32 model (weights = stored values), eager attention, generation_config.json's "
                 "forced_bos_token_id (the German token); inputs are [source language] ids </s>, some with a <pad> "
                 "inside; sequences exclude the decoder start token (</s> 2) and end at the first eos (2); "
                 "cross_attentions = last decoder layer, mean over heads, row i while predicting token i of "
                 "sequences[0]; tokenizer: AutoTokenizer.from_pretrained(folder) "
                 f"({type(tok).__name__}); decode texts: see `decoded` in the generator (M2M100: language tokens left "
                 "out first); end_to_end: decode(generate(tokenizer(text).input_ids with src_lang, "
                 "forced_bos_token_id = target language id, num_beams), skip_special_tokens=True), only inputs "
                 "whose ids survive float64 and perturbed weights.",
        "cases": cases,
        "batch": batch,
        "tokenizer": tokenizer,
        "end_to_end": end_to_end,
    })
    return dict(name=name, cases=len(cases), rejected=rejected,
                greedy_lengths=[len(c["generations"][0]["sequences"][0]) for c in cases],
                batch_matches=batch["matches_unbatched"], end_to_end=len(end_to_end),
                files=sorted(os.listdir(folder)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--allow-other-versions", action="store_true")
    ap.add_argument("--only", action="append", choices=[spec["name"] for spec in TINY_MODELS])
    args = ap.parse_args()
    prepare_run("generate_m2m100.py", args)
    t0 = time.time()
    for spec in TINY_MODELS:
        if args.only and spec["name"] not in args.only:
            continue
        r = make_tiny(spec)
        print(f"m2m100 {r['name']}: {r['cases']} cases ({r['rejected']} candidates rejected), greedy lengths "
              f"{r['greedy_lengths']}, batch matches unbatched: {r['batch_matches']}, end to end: "
              f"{r['end_to_end']}, files: {r['files']}", flush=True)
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
