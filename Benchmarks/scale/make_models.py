"""Random-weight checkpoints with the exact shapes of the models people download, for `make bench-scale`.

Weights are random (no model hub is reachable here), so outputs are meaningless; the benchmark forces every output
to the same length in every engine, which makes the work identical. Tokenizer files come from the bundled en-de
model: its SentencePiece model segments the input, and `vocab.json` is padded with placeholder pieces up to the
real vocabulary size, so the embedding and output-projection matrices have the real shapes. t5-base gets a
SentencePiece model in T5's layout (<pad> 0, </s> 1, <unk> 2) trained on Tatoeba sentences and padded the same way
to t5-base's 32,000 pieces (32,128 rows with the 100 <extra_id_N> and padding); that needs `protobuf`.
nllb-200-distilled-600M gets NLLB's tokenizer layout (`nllb_tokenizer`): a BPE SentencePiece model trained on Tatoeba
sentences and padded to NLLB's 256,000 pieces, so that every piece, language token and `<mask>` has the id it has in
the published model (eng_Latn 256047, deu_Latn 256042, <mask> 256203).

    python make_models.py --out DIR [--sizes opus-mt-en-de,opus-mt-tc-big,t5-base,nllb-200-distilled-600M]
    python check_nllb.py   # once after making nllb-200-distilled-600M: its tokenizer and xlate vs transformers
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "Models" / "xlate-en-de"

# The shapes of the published checkpoints' config.json (Helsinki-NLP/opus-mt-en-de; the opus-mt-tc-big models,
# e.g. opus-mt-tc-big-en-fr, whose vocabulary is 53,017 pieces).
MARIAN_SIZES = {
    "opus-mt-en-de": dict(d_model=512, layers=6, heads=8, ffn=2048, vocab=58101, activation="swish"),
    "opus-mt-tc-big": dict(d_model=1024, layers=6, heads=16, ffn=4096, vocab=53017, activation="relu"),
}
# t5-base's config.json: d_kv 64, relu feed-forward, tied embeddings, 32,128 rows for 32,000 SentencePiece pieces.
T5_SIZES = {
    "t5-base": dict(d_model=768, layers=12, heads=12, d_kv=64, ffn=3072, vocab=32128, pieces=32000),
}
# facebook/nllb-200-distilled-600M's config.json (model_type m2m_100, NllbTokenizer): relu, scale_embedding, pad 1,
# bos 0, eos 2, decoder start 2, tied embeddings; 256,206 rows = 4 specials + 255,997 SentencePiece pieces after
# SentencePiece's own <unk> <s> </s> (fairseq's ids: SentencePiece id + 1), 202 language codes, <mask>, 2 unused.
NLLB_SIZES = {
    "nllb-200-distilled-600M": dict(d_model=1024, layers=12, heads=16, ffn=4096, vocab=256206, positions=1024,
                                    pieces=256000),
}
SIZES = [*MARIAN_SIZES, *T5_SIZES, *NLLB_SIZES]


def marian(name: str, out: Path, seed: int) -> None:
    import torch
    from transformers import MarianConfig, MarianMTModel

    s = MARIAN_SIZES[name]
    pad = s["vocab"] - 1
    config = MarianConfig(
        vocab_size=s["vocab"], decoder_vocab_size=s["vocab"], d_model=s["d_model"],
        encoder_layers=s["layers"], decoder_layers=s["layers"],
        encoder_attention_heads=s["heads"], decoder_attention_heads=s["heads"],
        encoder_ffn_dim=s["ffn"], decoder_ffn_dim=s["ffn"], activation_function=s["activation"],
        max_position_embeddings=512, pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=0,
        forced_eos_token_id=0, scale_embedding=True, share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True, dropout=0.0)
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    with torch.no_grad():  # init_std 0.02 everywhere, as transformers initialises; final_logits_bias stays 0
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.02)
    model.generation_config.update(num_beams=4, max_length=512, bad_words_ids=[[pad]], decoder_start_token_id=pad,
                                   pad_token_id=pad, eos_token_id=0, forced_eos_token_id=0)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)

    vocab = json.loads((BUNDLED / "vocab.json").read_text(encoding="utf-8"))
    bundled_pad = vocab.pop("<pad>")
    assert bundled_pad == len(vocab) and max(vocab.values()) == len(vocab) - 1
    for i in range(len(vocab), pad):
        vocab[f"▁xlatefill{i}"] = i
    vocab["<pad>"] = pad
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    for f in ["source.spm", "target.spm"]:
        shutil.copy(BUNDLED / f, out / f)
    tok = json.loads((BUNDLED / "tokenizer_config.json").read_text(encoding="utf-8"))
    tok["added_tokens_decoder"][str(pad)] = tok["added_tokens_decoder"].pop(str(bundled_pad))
    (out / "tokenizer_config.json").write_text(json.dumps(tok, indent=2), encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(
        f"Random weights in the shape of {name} (make_models.py, seed {seed}); for benchmarks only.\n")


def t5_spiece(path: Path, pieces: int, seed_lines: list[str]) -> None:
    """A SentencePiece model in T5's layout (<pad> 0, </s> 1, <unk> 2, no <s>; unigram, nmt_nfkc) with exactly
    `pieces` pieces: trained on `seed_lines`, then filled with placeholder pieces whose scores keep them out of any
    segmentation of ordinary text."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    prefix = path.with_suffix("")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(seed_lines), model_prefix=str(prefix), vocab_size=8000, hard_vocab_limit=False,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0, num_threads=1,
        normalization_rule_name="nmt_nfkc", minloglevel=2)
    prefix.with_suffix(".vocab").unlink()
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(prefix.with_suffix(".model").read_bytes())
    lowest = min(p.score for p in proto.pieces if p.type == p.NORMAL)
    for i in range(len(proto.pieces), pieces):
        proto.pieces.add(piece=f"▁xlatefill{i}", score=lowest - 10.0, type=sentencepiece_model_pb2.ModelProto.SentencePiece.NORMAL)
    prefix.with_suffix(".model").write_bytes(proto.SerializeToString())
    if prefix.with_suffix(".model") != path:
        prefix.with_suffix(".model").rename(path)


def t5(name: str, out: Path, seed: int) -> None:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    s = T5_SIZES[name]
    config = T5Config(
        vocab_size=s["vocab"], d_model=s["d_model"], d_kv=s["d_kv"], d_ff=s["ffn"], num_layers=s["layers"],
        num_decoder_layers=s["layers"], num_heads=s["heads"], relative_attention_num_buckets=32,
        relative_attention_max_distance=128, feed_forward_proj="relu", dropout_rate=0.0, n_positions=512,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config).eval()
    with torch.no_grad():  # as marian(): transformers' T5 initialisation makes every random output <pad>
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.02)
    model.generation_config.update(max_length=512, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    t5_spiece(out / "spiece.model", s["pieces"], tatoeba_lines(20000))
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "T5Tokenizer", "extra_ids": 100, "model_max_length": 512, "eos_token": "</s>",
         "unk_token": "<unk>", "pad_token": "<pad>"}, indent=2), encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(
        f"Random weights in the shape of {name} (make_models.py, seed {seed}); for benchmarks only.\n")


def tatoeba_lines(per_language: int) -> list[str]:
    shared = REPO.parent / "shared" / "eval"
    lines = []
    for lang in ("en", "de"):
        lines += (shared / f"tatoeba-test.{lang}").read_text(encoding="utf-8").splitlines()[:per_language]
    return lines


def nllb_tokenizer(out: Path, pieces: int, model_vocab: int) -> None:
    """NLLB's tokenizer files in `out`: `sentencepiece.bpe.model` (a BPE model in fairseq's layout, <unk> 0, <s> 1,
    </s> 2, trained on Tatoeba sentences and filled with placeholder pieces to `pieces`), and the `tokenizer.json`
    / `tokenizer_config.json` transformers' NllbTokenizer writes, with the ids of the published model: ordinary
    pieces at SentencePiece id + 1, the 202 language codes from `pieces` + 1 in FAIRSEQ_LANGUAGE_CODES' order, then
    `<mask>` (transformers, converting a bare SentencePiece model, would put <mask> before the codes)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2
    from transformers import AutoTokenizer, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    out.mkdir(parents=True, exist_ok=True)
    prefix = out / "sentencepiece.bpe"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(tatoeba_lines(20000)), model_prefix=str(prefix), vocab_size=8000,
        hard_vocab_limit=False, model_type="bpe", unk_id=0, bos_id=1, eos_id=2, pad_id=-1, character_coverage=1.0,
        num_threads=1, normalization_rule_name="nmt_nfkc", minloglevel=2)
    (out / "sentencepiece.bpe.vocab").unlink()
    model_file = out / "sentencepiece.bpe.model"
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model_file.read_bytes())
    # BPE merges by score: the lowest scores keep the placeholders out of the segmentation of ordinary text.
    lowest = min(p.score for p in proto.pieces if p.type == p.NORMAL)
    for i in range(len(proto.pieces), pieces):
        proto.pieces.add(piece=f"▁xlatefill{i}", score=lowest - 10.0,
                         type=sentencepiece_model_pb2.ModelProto.SentencePiece.NORMAL)
    model_file.write_bytes(proto.SerializeToString())

    # The language codes must be given: converting a bare SentencePiece model, transformers 5.23 would otherwise
    # take extra_special_tokens = [<s>, </s>] and map every language code to <unk> (as Fixtures/generate_m2m100.py).
    tok = NllbTokenizer.from_pretrained(out, src_lang="eng_Latn", tgt_lang="deu_Latn",
                                        extra_special_tokens=list(FAIRSEQ_LANGUAGE_CODES))
    tok.save_pretrained(out)
    ids = {code: pieces + 1 + i for i, code in enumerate(FAIRSEQ_LANGUAGE_CODES)}
    ids["<mask>"] = pieces + 1 + len(FAIRSEQ_LANGUAGE_CODES)
    tokenizer_json = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    for token in tokenizer_json["added_tokens"]:
        token["id"] = ids.get(token["content"], token["id"])
    tokenizer_json["added_tokens"].sort(key=lambda token: token["id"])
    for special in tokenizer_json["post_processor"]["special_tokens"].values():
        special["ids"] = [ids.get(special["id"], i) for i in special["ids"]]
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False, indent=2), encoding="utf-8")
    config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["model_max_length"] = 1024  # the published tokenizer_config.json's (save_pretrained writes "unlimited")
    if "added_tokens_decoder" in config:
        config["added_tokens_decoder"] = {
            str(ids.get(entry["content"], int(key))): entry for key, entry in config["added_tokens_decoder"].items()}
    (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")

    loaded = AutoTokenizer.from_pretrained(out)
    vocab = loaded.get_vocab()
    assert sorted(vocab.values()) == list(range(len(vocab))), "ids are not 0..n-1"
    assert len(vocab) == ids["<mask>"] + 1 <= model_vocab, (len(vocab), model_vocab)
    assert [loaded.convert_tokens_to_ids(t) for t in ("eng_Latn", "deu_Latn", "<mask>")] == \
        [ids["eng_Latn"], ids["deu_Latn"], ids["<mask>"]]
    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    for piece_id in (3, 100, pieces - 1):
        assert loaded.convert_tokens_to_ids(sp.id_to_piece(piece_id)) == piece_id + 1, piece_id
    line = "The cat sat on the mat."
    expected = [ids["eng_Latn"]] + [i + 1 for i in sp.encode(line)] + [2]
    assert loaded(line).input_ids == expected, (loaded(line).input_ids, expected)


def nllb(name: str, out: Path, seed: int) -> None:
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    s = NLLB_SIZES[name]
    config = M2M100Config(
        vocab_size=s["vocab"], d_model=s["d_model"], encoder_layers=s["layers"], decoder_layers=s["layers"],
        encoder_attention_heads=s["heads"], decoder_attention_heads=s["heads"], encoder_ffn_dim=s["ffn"],
        decoder_ffn_dim=s["ffn"], activation_function="relu", max_position_embeddings=s["positions"],
        scale_embedding=True, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        tie_word_embeddings=True, tokenizer_class="NllbTokenizer", dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, encoder_layerdrop=0.0, decoder_layerdrop=0.0)
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config).eval()
    with torch.no_grad():  # as marian()
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.02)
    # The published generation_config.json: no forced </s> at the limit; the target language comes per call
    # (forced_bos_token_id).
    model.generation_config.update(max_length=200, bos_token_id=0, decoder_start_token_id=2, eos_token_id=2,
                                   pad_token_id=1)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    del model
    nllb_tokenizer(out, s["pieces"], s["vocab"])
    (out / "MODEL_CARD.md").write_text(
        f"Random weights in the shape of {name} (make_models.py, seed {seed}); for benchmarks only.\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder that receives one model folder per size")
    p.add_argument("--sizes", default=",".join(MARIAN_SIZES), help=f"comma-separated, of {', '.join(SIZES)}")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    for name in a.sizes.split(","):
        target = Path(a.out) / name
        if (target / "model.safetensors").exists():
            print(f"[bench-scale] {target} exists", file=sys.stderr)
            continue
        if name not in SIZES:
            sys.exit(f"make_models.py: unknown size {name}; known: {', '.join(SIZES)}")
        print(f"[bench-scale] generating {name} -> {target}", file=sys.stderr)
        # Made beside the target and renamed when complete: an interrupted run leaves no half model behind.
        partial = target.with_name(name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        (marian if name in MARIAN_SIZES else t5 if name in T5_SIZES else nllb)(name, partial, a.seed)
        partial.rename(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
