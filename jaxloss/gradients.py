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

from jaxloss import registry

__all__ = [name for name in registry.LOSSES]
# The twins are not module attributes until first use, so doctest finds their
# docstrings' examples here.
__test__ = {name: definition.gradient_doc for name, definition in registry.LOSSES.items()}
__getattr__ = registry.twin_lookup("gradient", __name__)


def __dir__() -> list[str]:
    return sorted(__all__)
