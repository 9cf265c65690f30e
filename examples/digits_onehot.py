"""Multi-class comparison on digits: cross-entropy, one-hot MSE and the rescaled square loss.

Cross-entropy takes the class indices; MSE needs one-hot targets (``one_hot_mse``, on
softmax outputs); the rescaled square loss of Hui & Belkin works on raw logits.

Run: ``python examples/digits_onehot.py [--model logistic] [--seeds 8] [--out DIR]``
"""

from __future__ import annotations

import argparse
import pathlib

from jaxloss.train import compare, datasets, models


def main(argv: list[str] | None = None) -> compare.Study:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp:64:tanh")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--out", type=pathlib.Path, help="folder for the plot")
    args = parser.parse_args(argv)

    config = compare.StudyConfig(
        dataset="digits",
        model=models.parse_model(args.model),
        losses=compare.DEFAULT_MULTICLASS_LOSSES,
        learning_rates=(args.lr,),
        seeds=args.seeds,
        steps=args.steps,
        threshold=args.threshold,
    )
    study = compare.run(config, datasets.load("digits"))
    print(compare.format_table(study.summary))
    if args.out is not None:
        compare.save_plot(study, args.out / "convergence_digits.png")
    return study


if __name__ == "__main__":
    main()
