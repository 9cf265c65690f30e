"""jaxloss: differentiable loss functions for JAX.

Every loss is a pure, jit-compiled function with keyword-only ``reduction``,
``weights`` and ``where`` options that follow one rule (see the README), and a
closed-form derivative of the same name in :mod:`jaxloss.gradients`.
"""

from jaxloss import gradients as gradients
from jaxloss import hessians as hessians
from jaxloss._checks import Reduction as Reduction
from jaxloss._classification import binary_cross_entropy as binary_cross_entropy
from jaxloss._classification import one_hot as one_hot
from jaxloss._classification import one_hot_mse as one_hot_mse
from jaxloss._classification import rescaled_square_loss as rescaled_square_loss
from jaxloss._classification import (
    sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy,
)
from jaxloss._classification import smooth_labels as smooth_labels
from jaxloss._classification import softmax_cross_entropy as softmax_cross_entropy
from jaxloss._classification import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
from jaxloss._regression import huber as huber
from jaxloss._regression import mae as mae
from jaxloss._regression import mse as mse
from jaxloss._regression import sigmoid_mse as sigmoid_mse
from jaxloss._regression import smooth_l1 as smooth_l1
from jaxloss.checked import checked as checked

__version__ = "0.1.0"

__all__ = [
    "Reduction",
    "binary_cross_entropy",
    "checked",
    "gradients",
    "hessians",
    "huber",
    "mae",
    "mse",
    "one_hot",
    "one_hot_mse",
    "rescaled_square_loss",
    "sigmoid_binary_cross_entropy",
    "sigmoid_mse",
    "smooth_l1",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
]
