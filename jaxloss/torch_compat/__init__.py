r"""Torch-style adapters over the native losses: torch's arguments, torch's numbers.

Each callable here takes the arguments of its namesake in ``torch.nn`` or
``torch.nn.functional`` 2.13, in the same order, and returns what torch returns, as a
jax array. None is a second implementation: each one translates torch's arguments
and calls a native loss (or, for ``nll_loss``, the native front end and reduction
rule with a gather as its core).

* ``mse_loss``, ``MSELoss``: :func:`jaxloss.mse`
* ``l1_loss``, ``L1Loss``: :func:`jaxloss.mae`
* ``huber_loss``, ``HuberLoss``: :func:`jaxloss.huber`
* ``smooth_l1_loss``, ``SmoothL1Loss``: :func:`jaxloss.smooth_l1`
* ``binary_cross_entropy``, ``BCELoss``: :func:`jaxloss.binary_cross_entropy`
* ``binary_cross_entropy_with_logits``, ``BCEWithLogitsLoss``:
  :func:`jaxloss.sigmoid_binary_cross_entropy`
* ``cross_entropy``, ``CrossEntropyLoss``: class indices,
  :func:`jaxloss.softmax_cross_entropy_with_integer_labels`; class probabilities,
  :func:`jaxloss.softmax_cross_entropy`
* ``nll_loss``, ``NLLLoss``: ``-input[n, y_n]`` through the native front end
* ``kl_div``, ``KLDivLoss``; ``poisson_nll_loss``, ``PoissonNLLLoss``;
  ``gaussian_nll_loss``, ``GaussianNLLLoss``: the divergences and likelihoods
  (``jaxloss.torch_compat._divergences``)
* ``soft_margin_loss``, ``SoftMarginLoss``: :func:`jaxloss.soft_margin`
* ``hinge_embedding_loss``, ``HingeEmbeddingLoss``: :func:`jaxloss.hinge_embedding`
* ``margin_ranking_loss``, ``MarginRankingLoss``: :func:`jaxloss.margin_ranking`
* ``multi_margin_loss``, ``MultiMarginLoss``: :func:`jaxloss.multi_margin`
* ``multilabel_margin_loss``, ``MultiLabelMarginLoss``: :func:`jaxloss.multilabel_margin`
  (torch's padded index lists become multi-hot rows)
* ``multilabel_soft_margin_loss``, ``MultiLabelSoftMarginLoss``:
  :func:`jaxloss.multilabel_soft_margin`
* ``cosine_embedding_loss``, ``CosineEmbeddingLoss``: :func:`jaxloss.cosine_embedding`
* ``triplet_margin_loss``, ``TripletMarginLoss``, ``triplet_margin_with_distance_loss``,
  ``TripletMarginWithDistanceLoss``, ``pairwise_distance``: the metric losses
* ``ctc_loss``, ``CTCLoss``: :func:`jaxloss.ctc_loss`, torch's ``[T, N, C]`` layout
* ``linear_cross_entropy``, ``LinearCrossEntropyLoss``:
  :func:`jaxloss.linear_softmax_cross_entropy`

Each submodule's adapters say where they differ from torch. Translations shared by
every adapter, all in ``jaxloss.torch_compat._basic``:

* ``size_average`` and ``reduce`` win over ``reduction`` when either is not None and
  map to it as ``torch.nn._reduction.legacy_get_string`` does, with the same
  ``UserWarning``. ``reduction="elementwise_mean"`` warns and means ``"mean"``, as in
  torch; an unknown reduction raises ``ValueError``.
* torch's class axis is 1 (0 for an unbatched ``(C,)`` input); it becomes the native
  ``axis``. ``ignore_index`` becomes the native ``where`` mask.
* torch's ``"mean"`` of an elementwise loss with ``weight`` divides by the element
  count for ``binary_cross_entropy(_with_logits)`` and ``huber_loss``, where the
  native weighted mean divides by ``sum(w)``: those are computed as the native
  ``"sum"`` over the element count.

Errors name torch's arguments (``input``, ``target``, ``weight``, ``pos_weight``,
``delta``, ``beta``, ``label_smoothing``) and show the shapes the caller passed
(class axis 1), never the native names or the native loss's class-last layout.
A bad shape raises ``ValueError``, a bad dtype ``TypeError`` (torch raises
``RuntimeError`` or ``NotImplementedError`` for both).

Hyper-parameters and weights are range-checked when they are concrete, with a
``ValueError`` naming torch's argument. Traced ones (under ``jit``, ``vmap`` or
``grad``) cannot be inspected and are not checked; :func:`jaxloss.checked` on the
native loss checks them at run time.

Where torch and jaxloss differ, jaxloss's rule is kept and the docstring says so:
targets of a different shape raise ``ValueError`` (torch warns and broadcasts), a
``"mean"`` over nothing (or over weights summing to 0) is 0 (torch gives NaN), an
out-of-range class index gives a NaN loss (torch raises ``IndexError``), invalid
hyper-parameters raise ``ValueError`` where torch raises ``RuntimeError``, and
negative weights and ``label_smoothing`` raise ``ValueError`` where torch accepts
them.
"""

from __future__ import annotations

from jaxloss.torch_compat import _basic, _ctc, _divergences, _linear, _margins, _metric
from jaxloss.torch_compat._basic import *  # each submodule's __all__: its adapters
from jaxloss.torch_compat._basic import _legacy_or as _legacy_or
from jaxloss.torch_compat._ctc import *
from jaxloss.torch_compat._divergences import *
from jaxloss.torch_compat._linear import *
from jaxloss.torch_compat._margins import *
from jaxloss.torch_compat._metric import *

__all__ = [
    *_basic.__all__,
    *_ctc.__all__,
    *_divergences.__all__,
    *_linear.__all__,
    *_margins.__all__,
    *_metric.__all__,
]
