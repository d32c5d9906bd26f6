"""Average two checkpoints of one network parameter by parameter (a "model soup", Wortsman et al. 2022).

    python -m train.soup runs/real_psnr_mix2/weights runs/real_psnr_mix3/weights --weight 0.6 --out runs/real_psnr_soup

Writes ``(1 - weight) x A + weight x B`` (the training-form tensors, float16 like every shipped file) with
B's config and a ``soup`` entry naming both; ``python -m train.ship RUN NAME --weights OUT`` ships it. The two
checkpoints must come from one lineage (fine-tunings of the same weights), or the average means nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sr_core.checkpoint import load_model, save_pretrained, training_metadata


def soup(a: str | Path, b: str | Path, weight: float, out: str | Path) -> Path:
    if not 0 <= weight <= 1:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    model_a, model_b = load_model(a), load_model(b)
    sa, sb = model_a.state_dict(), model_b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ValueError(f"{a} and {b} are not the same network")
    model_b.load_state_dict({k: (1 - weight) * sa[k] + weight * sb[k] for k in sa})
    cfg = json.loads((Path(b) / "config.json").read_text())
    meta = training_metadata(cfg)
    meta["soup"] = {"weights": {str(a): 1 - weight, str(b): weight},
                    "how": "parameter-wise average of the training-form weights (python -m train.soup)"}
    save_pretrained(model_b, out, half=True, **meta)
    return Path(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.soup", description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="first checkpoint folder")
    parser.add_argument("b", help="second checkpoint folder (its config is kept)")
    parser.add_argument("--weight", type=float, required=True, help="share of b, in [0, 1]")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    print(f"wrote {soup(args.a, args.b, args.weight, args.out)}")


if __name__ == "__main__":
    main()
