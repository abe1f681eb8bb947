"""How the pairs of this gold set were chosen and tokenised (the links themselves are by hand: README.md).

Run from the repository root with ../shared/eval beside it: prints en.txt, de.txt and origin.tsv's lines as
tab-separated columns (origin file, line, English tokens, German tokens).
"""
import sys

EVAL = "../shared/eval/"
# Split off the ends of a whitespace token, repeatedly; punctuation inside a token stays.
EDGE = set("'" + '.,!?;:"()[]„“”‚‘’«»…')


def tokenise(text):
    out = []
    for word in text.split():
        before, after = [], []
        while word and word[0] in EDGE:
            before.append(word[0])
            word = word[1:]
        while word and word[-1] in EDGE:
            after.insert(0, word[-1])
            word = word[:-1]
        out += before + ([word] if word else []) + after
    return out


# (file, step, remainder, fewest and most English tokens, pairs wanted): lines whose 0-based index is
# `remainder` modulo `step`, in order, whose English has that many tokens and German from one fewer to three more.
RULES = [
    ("tatoeba-test", 150, 7, 5, 12, 50),
    ("multi30k-test2016", 19, 3, 6, 14, 30),
    ("multi30k-test2018", 23, 5, 6, 14, 10),
    ("newstest2019.en-de", 37, 1, 6, 15, 10),
    ("newstest2019.de-en", 37, 1, 6, 15, 10),
]

for name, step, remainder, fewest, most, wanted in RULES:
    english = open(EVAL + name + ".en", encoding="utf-8").read().split("\n")
    german = open(EVAL + name + ".de", encoding="utf-8").read().split("\n")
    taken = 0
    for index, (en, de) in enumerate(zip(english, german)):
        if index % step != remainder:
            continue
        en_tokens, de_tokens = tokenise(en), tokenise(de)
        if fewest <= len(en_tokens) <= most and fewest - 1 <= len(de_tokens) <= most + 3:
            print(f"{name}\t{index + 1}\t{' '.join(en_tokens)}\t{' '.join(de_tokens)}")
            taken += 1
            if taken == wanted:
                break
    if taken < wanted:
        sys.exit(f"{name}: only {taken} pairs")
