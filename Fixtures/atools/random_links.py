"""Random forward/reverse link sets for the atools reference (README.md): 300 pairs, seeded."""
import random

rng = random.Random(16)
with open("forward.txt", "w") as forward, open("reverse.txt", "w") as reverse:
    for _ in range(300):
        sources, targets = rng.randint(1, 9), rng.randint(1, 9)
        density = rng.choice([0.1, 0.2, 0.3, 0.5])
        for out in (forward, reverse):
            links = [f"{i}-{j}" for i in range(sources) for j in range(targets) if rng.random() < density / max(1, min(sources, targets) / 2)]
            out.write(" ".join(links) + "\n")
