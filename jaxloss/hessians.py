r"""Closed-form second derivatives of every loss with respect to its first argument.

``jaxloss.hessians.<name>`` has the signature of ``jaxloss.<name>``. For an
elementwise loss the Hessian is diagonal and is returned as that diagonal, shaped
like the first argument. For a per-example loss (the softmax cross-entropies and the
rescaled square loss) it is block-diagonal, one ``C x C`` matrix per example,
returned as ``[..., C, C]`` with the two class axes last. Each is scaled by the
reduction exactly as the gradient is (see ``jaxloss.gradients``), so
``hessians.f(x, y, reduction=r)`` holds the non-zero blocks of
``jax.hessian(lambda x: jnp.sum(f(x, y, reduction=r)))(x)``; the tests check it in
float64 for every loss.

Two facts the closed forms make visible: ``sigmoid_mse`` is not convex in the logit
(its second derivative is negative where the sigmoid saturates on the wrong side),
while ``sigmoid_binary_cross_entropy`` is (its second derivative is
:math:`\sigma(z)(1-\sigma(z)) \ge 0`).
"""

from __future__ import annotations

from jaxloss import registry

__all__ = [name for name in registry.LOSSES]
# The twins are not module attributes until first use, so doctest finds their
# docstrings' examples here.
__test__ = {name: definition.hessian_doc for name, definition in registry.LOSSES.items()}
__getattr__ = registry.twin_lookup("hessian", __name__)


def __dir__() -> list[str]:
    return sorted(__all__)
