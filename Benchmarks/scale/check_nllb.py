#!/usr/bin/env python3
"""Checks the random-weight nllb-200-distilled-600M of make_models.py against transformers, once after making it:

- transformers' NllbTokenizer gives `eng_Latn` + (SentencePiece ids + 1) + `</s>`, i.e. the pieces bench_scale.py
  feeds CTranslate2 (`ct2_source`), and the published ids of eng_Latn, deu_Latn and <mask>;
- xlate reads the same source ids: its greedy output and token log-probabilities (`--format json --scores`) equal
  transformers' `generate` (forced_bos_token_id = deu_Latn). The log-probabilities depend on the source through
  cross-attention, so the check also runs transformers with one source id changed and reports how far that moves
  them (the margin the equality has to beat). Random weights make every output repeat a token: the outputs alone
  would not tell sources apart.

    ~/.cache/xlate/bench-venv/bin/python Benchmarks/scale/check_nllb.py [--model DIR] [--xlate-bin BIN] [--lines 3]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SCALE_DIR = Path(__file__).resolve().parent
REPO = SCALE_DIR.parents[1]
LENGTH = 10  # max_length, the start token included: 9 generated tokens
EXTRA = ["The cat sat on the mat.", "Hello   world! ﬁne 123"]  # runs of spaces, a ligature (NFKC), digits


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(Path.home() / ".cache/xlate/bench-scale/models/nllb-200-distilled-600M"))
    p.add_argument("--xlate-bin", default=str(REPO / ".build/release/xlate"))
    p.add_argument("--input", default=str(REPO.parent / "shared/eval/newstest2014.en"))
    p.add_argument("--lines", type=int, default=3, help="first lines of --input, besides two odd ones")
    a = p.parse_args()

    import sentencepiece as spm
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    lines = Path(a.input).read_text(encoding="utf-8").splitlines()[: a.lines] + EXTRA
    r = subprocess.run([a.xlate_bin, "--model", a.model, "--src", "eng_Latn", "--tgt", "deu_Latn", "--beam", "1",
                        "--max-length", str(LENGTH), "--format", "json", "--scores", "--split", "none", "--quiet",
                        "--threads", "2"], input="\n".join(lines) + "\n", capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"check_nllb: xlate failed (exit {r.returncode}):\n{r.stderr}")
    xlate = [json.loads(line) for line in r.stdout.splitlines()]

    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(a.model)
    tok.src_lang = "eng_Latn"
    sp = spm.SentencePieceProcessor(model_file=str(Path(a.model) / "sentencepiece.bpe.model"))
    ids_of = {t: tok.convert_tokens_to_ids(t) for t in ("eng_Latn", "deu_Latn", "<mask>")}
    assert ids_of == {"eng_Latn": 256047, "deu_Latn": 256042, "<mask>": 256203}, ids_of
    model = AutoModelForSeq2SeqLM.from_pretrained(a.model, dtype=torch.float32).eval()

    def greedy(source: list[int]) -> tuple[list[str], list[float]]:
        with torch.inference_mode():
            out = model.generate(torch.tensor([source]), num_beams=1, do_sample=False, max_length=LENGTH,
                                 forced_bos_token_id=ids_of["deu_Latn"], output_scores=True,
                                 return_dict_in_generate=True)
        ids = out.sequences[0, 1:].tolist()
        return tok.convert_ids_to_tokens(ids), [torch.log_softmax(s[0], -1)[i].item() for s, i in zip(out.scores, ids)]

    worst, margin = 0.0, float("inf")
    for line, x in zip(lines, xlate, strict=True):
        ids = tok(line).input_ids
        pieces = sp.encode(line, out_type=str)
        assert tok.convert_ids_to_tokens(ids) == ["eng_Latn", *pieces, "</s>"], (line, ids)
        assert ids[1:-1] == [i + 1 for i in sp.encode(line)], line
        tokens, scores = greedy(ids)
        assert tokens == x["tokens"], (line, tokens, x["tokens"])
        diff = max(abs(s - t) for s, t in zip(scores, x["token_scores"], strict=True))
        changed = [ids[0], ids[1] + 1, *ids[2:]]
        moved = max(abs(s - t) for s, t in zip(greedy(changed)[1], x["token_scores"], strict=True))
        worst, margin = max(worst, diff), min(margin, moved)
        print(f"{len(ids):3d} source ids: xlate = transformers, log-probabilities within {diff:.1e} "
              f"(one source id changed: {moved:.1e})")
    print(f"{len(lines)} lines: xlate's log-probabilities within {worst:.1e} of transformers'; one changed source id "
          f"moves them by {margin:.1e} or more")
    return 0 if worst < margin / 10 else 1


if __name__ == "__main__":
    sys.exit(main())
