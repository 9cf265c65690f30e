"""The textbook formulas of the losses added after the first ten, one module per family.

Each module has a ``FORMULAS`` dict from a loss's name to its unreduced formula,
``formula(first, second, *more_inputs, xp, **options)``, written against the array
namespace ``xp`` under the same rules as :mod:`tests.reference` (whose module
docstring they follow), each with the source it was written from in a comment.
:func:`tests.reference.unreduced` looks a name up here when it is not one of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.formulas import (
    classification,
    divergences,
    margins,
    metric,
    ranking,
    regression,
    segmentation,
    sparse,
)

FORMULAS: dict[str, Callable[..., Any]] = {}
for _module in (
    regression,
    classification,
    divergences,
    margins,
    metric,
    ranking,
    segmentation,
    sparse,
):
    FORMULAS.update(_module.FORMULAS)
