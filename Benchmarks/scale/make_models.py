"""Random-weight checkpoints with the exact shapes of the models people download, for `make bench-scale`.

Weights are random (no model hub is reachable here), so outputs are meaningless; the benchmark forces every output
to the same length in every engine, which makes the work identical. Tokenizer files come from the bundled en-de
model: its SentencePiece model segments the input, and `vocab.json` is padded with placeholder pieces up to the
real vocabulary size, so the embedding and output-projection matrices have the real shapes. t5-base gets a
SentencePiece model in T5's layout (<pad> 0, </s> 1, <unk> 2) trained on Tatoeba sentences and padded the same way
to t5-base's 32,000 pieces (32,128 rows with the 100 <extra_id_N> and padding); that needs `protobuf`.

    python make_models.py --out DIR [--sizes opus-mt-en-de,opus-mt-tc-big,t5-base]
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
SIZES = [*MARIAN_SIZES, *T5_SIZES]


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
    shared = REPO.parent / "shared" / "eval"
    lines = []
    for lang in ("en", "de"):
        lines += (shared / f"tatoeba-test.{lang}").read_text(encoding="utf-8").splitlines()[:20000]
    t5_spiece(out / "spiece.model", s["pieces"], lines)
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "T5Tokenizer", "extra_ids": 100, "model_max_length": 512, "eos_token": "</s>",
         "unk_token": "<unk>", "pad_token": "<pad>"}, indent=2), encoding="utf-8")
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
        (marian if name in MARIAN_SIZES else t5)(name, partial, a.seed)
        partial.rename(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
