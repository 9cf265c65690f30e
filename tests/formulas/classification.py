"""Textbook formulas: classification (see tests/formulas/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMULAS: dict[str, Callable[..., Any]] = {}


def _label_one_hot(logits, labels, xp):
    from tests.reference import _one_hot

    return _one_hot(labels, logits.shape[-1], logits.dtype, xp)


def _sigmoid_focal_loss(logits, labels, *, xp, alpha=None, gamma=2.0):
    # Lin et al., "Focal Loss for Dense Object Detection" (ICCV 2017), eq. (5), for
    # soft labels as optax.sigmoid_focal_loss defines it: p = sigmoid(z),
    # p_t = y p + (1 - y)(1 - p), alpha_t = alpha y + (1 - alpha)(1 - y),
    # FL = alpha_t (1 - p_t)^gamma (-y log p - (1 - y) log(1 - p)).
    from tests.reference import _log_sigmoid, _sigmoid

    p, not_p = _sigmoid(logits, xp), _sigmoid(-logits, xp)
    p_t = labels * p + (1 - labels) * not_p
    cross_entropy = -(labels * _log_sigmoid(logits, xp) + (1 - labels) * _log_sigmoid(-logits, xp))
    loss = (1 - p_t) ** gamma * cross_entropy
    if alpha is None:
        return loss
    return (alpha * labels + (1 - alpha) * (1 - labels)) * loss


def _softmax_focal_loss(logits, targets, *, xp, alpha=0.25, gamma=2.0):
    # Keras 3's keras.losses.categorical_focal_crossentropy with from_logits=True
    # (keras/src/losses/losses.py), without its clip to [eps, 1 - eps]:
    # p = softmax(z); sum over the class axis of alpha (1 - p)^gamma (-y log p).
    from tests.reference import _log_softmax

    log_p = _log_softmax(logits, xp)
    return xp.sum(alpha * (1 - xp.exp(log_p)) ** gamma * (-targets * log_p), axis=-1)


def _softmax_focal_loss_with_integer_labels(logits, labels, *, xp, alpha=0.25, gamma=2.0):
    # The same with one-hot targets (Keras: keras.utils.to_categorical(labels)).
    targets = _label_one_hot(logits, labels, xp)
    return _softmax_focal_loss(logits, targets, xp=xp, alpha=alpha, gamma=gamma)


def _poly_loss_cross_entropy(logits, labels, *, xp, epsilon=2.0):
    # Leng et al., "PolyLoss" (ICLR 2022), Poly-1: CE + epsilon (1 - P_t), with
    # optax's (1 - P_t) for soft labels: sum_c y_c (1 - softmax(z)_c).
    from tests.reference import _log_softmax

    log_p = _log_softmax(logits, xp)
    cross_entropy = -xp.sum(labels * log_p, axis=-1)
    return cross_entropy + epsilon * xp.sum(labels * (1 - xp.exp(log_p)), axis=-1)


def _generalized_cross_entropy(logits, labels, *, xp, q=0.7):
    # Zhang & Sabuncu, "Generalized Cross Entropy Loss for Training Deep Neural
    # Networks with Noisy Labels" (NeurIPS 2018), eq. (6): L_q = (1 - f_y(x)^q) / q
    # with f = softmax.
    from tests.reference import _log_softmax

    log_p_y = xp.sum(_label_one_hot(logits, labels, xp) * _log_softmax(logits, xp), axis=-1)
    return (1 - xp.exp(log_p_y) ** q) / q


def _squentropy(logits, labels, *, xp):
    # Hui, Belkin & Wright, "Cut your Losses with Squentropy" (ICML 2023), eq. (2):
    # -log softmax(z)_y + 1/(C - 1) sum_{c != y} z_c^2.
    from tests.reference import _log_softmax

    one_hot = _label_one_hot(logits, labels, xp)
    cross_entropy = -xp.sum(one_hot * _log_softmax(logits, xp), axis=-1)
    num_classes = logits.shape[-1]
    incorrect = xp.sum((1 - one_hot) * logits**2, axis=-1)
    return cross_entropy + incorrect / max(num_classes - 1, 1)


def _safe_softmax_cross_entropy(logits, labels, *, xp):
    # optax.safe_softmax_cross_entropy: -sum_c y_c log softmax(z)_c, 0 log 0 = 0
    # (at the finite logits the tests use, the plain formula).
    from tests.reference import _log_softmax

    return -xp.sum(labels * _log_softmax(logits, xp), axis=-1)


FORMULAS["sigmoid_focal_loss"] = _sigmoid_focal_loss
FORMULAS["softmax_focal_loss"] = _softmax_focal_loss
FORMULAS["softmax_focal_loss_with_integer_labels"] = _softmax_focal_loss_with_integer_labels
FORMULAS["poly_loss_cross_entropy"] = _poly_loss_cross_entropy
FORMULAS["generalized_cross_entropy"] = _generalized_cross_entropy
FORMULAS["squentropy"] = _squentropy
FORMULAS["safe_softmax_cross_entropy"] = _safe_softmax_cross_entropy
