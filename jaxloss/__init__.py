"""jaxloss: differentiable loss functions for JAX.

Every loss is a pure, jit-compiled function with keyword-only ``reduction``,
``weights`` and ``where`` options that follow one rule (see the README), and a
closed-form derivative of the same name in :mod:`jaxloss.gradients`.

The layers above the losses load on first use, so that ``import jaxloss`` imports
none of optax, matplotlib, scikit-learn or torch: ``jaxloss.analysis``,
``jaxloss.train``, ``jaxloss.curvature`` and ``jaxloss.torch_compat`` are attributes
all the same.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from jaxloss import (
    _classification,
    _divergences,
    _linear_cross_entropy,
    _margins,
    _metric,
    _ranking,
    _regression,
    _segmentation,
    _sequence,
    _sparse,
)
from jaxloss import gradients as gradients
from jaxloss import hessians as hessians
from jaxloss import registry as registry
from jaxloss._checks import Reduction as Reduction
from jaxloss._classification import *  # each family module's __all__: its losses and helpers
from jaxloss._divergences import *
from jaxloss._linear_cross_entropy import *
from jaxloss._margins import *
from jaxloss._metric import *
from jaxloss._ranking import *
from jaxloss._regression import *
from jaxloss._segmentation import *
from jaxloss._sequence import *
from jaxloss._sparse import *
from jaxloss.checked import checked as checked

if TYPE_CHECKING:  # for type checkers and IDEs; at run time they load on first use
    from jaxloss import analysis as analysis
    from jaxloss import curvature as curvature
    from jaxloss import torch_compat as torch_compat
    from jaxloss import train as train

__version__ = "0.1.0"

_LAZY_SUBMODULES = ("analysis", "curvature", "torch_compat", "train")

__all__ = ["Reduction", "analysis", "checked", "gradients", "hessians", "registry"]
__all__ += ["curvature", "torch_compat", "train"]
__all__ += _classification.__all__
__all__ += _divergences.__all__
__all__ += _linear_cross_entropy.__all__
__all__ += _margins.__all__
__all__ += _metric.__all__
__all__ += _ranking.__all__
__all__ += _regression.__all__
__all__ += _segmentation.__all__
__all__ += _sequence.__all__
__all__ += _sparse.__all__


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY_SUBMODULES:
        # import_module sets the attribute on this package, so this runs once per name.
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
