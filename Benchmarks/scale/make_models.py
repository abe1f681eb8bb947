"""Random-weight checkpoints with the exact shapes of the models people download, for `make bench-scale`.

Weights are random (no model hub is reachable here), so outputs are meaningless; the benchmark forces every output
to the same length in every engine, which makes the work identical. Tokenizer files come from the bundled en-de
model: its SentencePiece model segments the input, and `vocab.json` is padded with placeholder pieces up to the
real vocabulary size, so the embedding and output-projection matrices have the real shapes.

    python make_models.py --out DIR [--sizes opus-mt-en-de,opus-mt-tc-big]
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder that receives one model folder per size")
    p.add_argument("--sizes", default=",".join(MARIAN_SIZES))
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    for name in a.sizes.split(","):
        target = Path(a.out) / name
        if (target / "model.safetensors").exists():
            print(f"[bench-scale] {target} exists", file=sys.stderr)
            continue
        print(f"[bench-scale] generating {name} -> {target}", file=sys.stderr)
        marian(name, target, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
