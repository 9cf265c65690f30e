"""Binary comparison on breast cancer: sigmoid MSE against sigmoid cross-entropy.

Logistic regression with plain SGD, from a normal start and from a saturated start
(output weights 10 times larger), where MSE after a sigmoid is known to stall.

Run: ``python examples/breast_cancer.py [--seeds 32] [--steps 3000] [--out DIR]``
"""

from __future__ import annotations

import argparse
import pathlib

from jaxloss.train import compare, datasets


def main(argv: list[str] | None = None) -> dict[str, compare.Study]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--out", type=pathlib.Path, help="folder for one plot per start")
    args = parser.parse_args(argv)

    dataset = datasets.load("breast_cancer")
    studies = {}
    for init in ("normal", "saturated"):
        config = compare.StudyConfig(
            init=init, seeds=args.seeds, steps=args.steps, learning_rates=(args.lr,)
        )
        studies[init] = compare.run(config, dataset)
        print(f"\n{init} start:\n{compare.format_table(studies[init].summary)}")
        if args.out is not None:
            compare.save_plot(studies[init], args.out / f"convergence_{init}.png")
    return studies


if __name__ == "__main__":
    main()
