r"""Closed-form first derivatives of every loss, derived from its definition.

``jaxloss.gradients.<name>`` has the signature of ``jaxloss.<name>`` and returns the
derivative of the loss with respect to its first argument, shaped like it. No
autodiff runs inside: each is ``scale * derivative`` where ``derivative`` is the
hand-derived derivative of one unreduced entry (the first partial of the loss's
``LossDefinition``) and ``scale`` the derivative of the reduction (see ``jaxloss._reduction``):

* ``"mean"``: :math:`s_i = w_i m_i / \sum_j w_j m_j` (``1/N`` without weights or mask);
* ``"sum"``: :math:`s_i = w_i m_i`;
* ``"none"``: :math:`s_i = w_i m_i`, the derivative of each entry by its own input.

So ``gradients.f(x, y, reduction=r) == jax.grad(lambda x: jnp.sum(f(x, y, reduction=r)))(x)``,
which the tests check in float64 for every loss.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from jaxloss import registry

__all__ = [name for name in registry.LOSSES]


def __getattr__(name: str) -> Callable[..., jax.Array]:
    # Each twin is built once, on first use, and is the same object afterwards
    # (identity matters for jit's static arguments and for jaxloss.checked).
    try:
        return registry.LOSSES[name].gradient
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(__all__)
