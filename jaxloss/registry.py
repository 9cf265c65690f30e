"""The table of loss definitions: one row per loss, gathered from the family modules.

A row is the loss's :class:`~jaxloss._definition.LossDefinition`: its public
function (``.loss``), closed-form gradient and Hessian (``.gradient``, ``.hessian``),
hyper-parameters with their ranges, input domain, target kind, link and test inputs.
The generic tests run every check on every row, so a loss defined in a family module
is tested by construction. The command line, the training harness and
``jaxloss.checked`` look losses up here too.

Example:
  >>> from jaxloss.registry import LOSSES
  >>> LOSSES["binary_cross_entropy"].link
  'sigmoid'
  >>> [parameter.name for parameter in LOSSES["rescaled_square_loss"].parameters]
  ['k', 'm']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import jax

from jaxloss import (
    _classification,
    _divergences,
    _margins,
    _metric,
    _ranking,
    _regression,
    _segmentation,
    _sequence,
    _sparse,
)
from jaxloss._definition import Domain, Link, LossDefinition, Parameter, TargetKind

__all__ = [
    "LOSSES",
    "Domain",
    "Link",
    "LossDefinition",
    "LossSpec",
    "Parameter",
    "TargetKind",
    "get",
]

# The row type's earlier name, kept for code written against it.
LossSpec = LossDefinition

# The modules that define losses; a loss added to one of them joins the table.
_FAMILIES = (
    _regression,
    _classification,
    _divergences,
    _margins,
    _metric,
    _ranking,
    _segmentation,
    _sparse,
    _sequence,
)

#: Every loss definition by its public name, in family order (regression first).
LOSSES: dict[str, LossDefinition] = {
    definition.name: definition
    for family in _FAMILIES
    for definition in vars(family).values()
    if isinstance(definition, LossDefinition)
}


def get(name: str) -> LossDefinition:
    """The registry row for ``name``; an unknown name raises ``ValueError`` listing all."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}") from None


def twin_lookup(
    attribute: Literal["gradient", "hessian"], module: str
) -> Callable[[str], Callable[..., jax.Array]]:
    """The module ``__getattr__`` of ``jaxloss.gradients`` or ``jaxloss.hessians``.

    Each twin is built once, on first use, and is the same object afterwards
    (identity matters for jit's static arguments and for ``jaxloss.checked``).
    """

    def lookup(name: str) -> Callable[..., jax.Array]:
        definition = LOSSES.get(name)
        if definition is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return definition.gradient if attribute == "gradient" else definition.hessian

    return lookup
