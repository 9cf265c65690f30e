"""The classic ``nn.MSELoss`` demonstration, redone with jaxloss.

A 3 x 5 prediction and target: the squared differences, their sum divided by the
element count, ``jaxloss.mse``, and the gradient ``2 (prediction - target) / N``
from ``jax.grad`` and from the closed form in ``jaxloss.gradients``.

Run: ``python examples/mse_by_hand.py [--rows 3 --columns 5]``
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

import jaxloss


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3)
    parser.add_argument("--columns", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    shape = (args.rows, args.columns)
    prediction = rng.standard_normal(shape).astype(np.float32)
    target = rng.standard_normal(shape).astype(np.float32)
    count = prediction.size

    by_hand = float(((prediction - target) ** 2).sum() / count)
    library = float(jaxloss.mse(prediction, target))
    autodiff = np.asarray(jax.grad(jaxloss.mse)(prediction, target))
    closed_form = np.asarray(jaxloss.gradients.mse(prediction, target))
    formula = 2 * (prediction - target) / count

    print(f"sum of squared differences / {count} = {by_hand:.6f}")
    print(f"jaxloss.mse                      = {library:.6f}")
    print(f"max |jax.grad - 2 (p - t) / {count}|  = {np.abs(autodiff - formula).max():.2e}")
    print(f"max |closed form - jax.grad|     = {np.abs(closed_form - autodiff).max():.2e}")
    return {"by_hand": by_hand, "jaxloss": library}


if __name__ == "__main__":
    main()
