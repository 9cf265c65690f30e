"""Convergence metrics over seeds: steps to a threshold, medians and quartiles."""

from __future__ import annotations

from typing import Any

import numpy as np


def steps_to_threshold(curves: np.ndarray, threshold: float, *, above: bool = True) -> np.ndarray:
    """Steps until each curve first reaches ``threshold``; ``inf`` where it never does.

    Args:
      curves: ``[..., steps]``; entry ``t`` is measured before update ``t + 1``.
      threshold: the level to reach.
      above: reach means ``>= threshold`` (accuracy) when True, ``<= threshold``
        (loss) when False.

    Returns:
      ``[...]`` float array: the number of updates made before the curve first
      reached the threshold (0 if it started there), or ``inf``.

    Example:
      >>> steps_to_threshold(np.array([[0.5, 0.8, 0.96, 0.97], [0.5, 0.6, 0.7, 0.8]]), 0.95)
      array([ 2., inf])
    """
    reached = curves >= threshold if above else curves <= threshold
    first = np.argmax(reached, axis=-1).astype(float)
    return np.where(reached.any(axis=-1), first, np.inf)


# Quartiles are interpolated with "never" standing in as this huge finite number, so
# that a quartile between a finite value and "never" is "never", not NaN.
_NEVER = 1e300


def summarize(values: np.ndarray) -> dict[str, Any]:
    """Median and quartiles over seeds, runs that never reach the threshold included.

    ``inf`` (never reached) counts as later than any step, so a median over seeds
    of which more than half never converge is itself ``None`` ("never"); ``never``
    counts them. NaN values (runs that diverged) are left out of everything and
    counted in ``diverged``; ``runs`` counts the runs left in.

    Example:
      >>> summarize(np.array([10.0, 20.0, 30.0, np.inf, np.nan]))
      {'median': 25.0, 'q25': 17.5, 'q75': None, 'never': 1, 'diverged': 1, 'runs': 4}
    """
    values = np.asarray(values, float).ravel()
    kept = values[~np.isnan(values)]
    summary: dict[str, Any] = {}
    finite = kept[np.isfinite(kept)]
    latest = finite.max() if finite.size else -np.inf
    for name, quantile in (("median", 0.5), ("q25", 0.25), ("q75", 0.75)):
        if kept.size == 0:
            summary[name] = None
            continue
        value = float(np.quantile(np.where(np.isinf(kept), _NEVER, kept), quantile))
        # Past the latest finite value means it leans on a run that never got there.
        summary[name] = None if value > latest else value
    summary["never"] = int(np.isinf(kept).sum())
    summary["diverged"] = int(np.isnan(values).sum())
    summary["runs"] = int(kept.size)
    return summary


def summarize_finite(values: np.ndarray) -> dict[str, Any]:
    """Median and quartiles of a quantity such as a final accuracy (NaN left out).

    Example:
      >>> summarize_finite(np.array([0.5, 1.0, np.nan]))
      {'median': 0.75, 'q25': 0.625, 'q75': 0.875}
    """
    values = np.asarray(values, float).ravel()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"median": None, "q25": None, "q75": None}
    q25, median, q75 = np.quantile(finite, [0.25, 0.5, 0.75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75)}


def format_steps(summary: dict[str, Any]) -> str:
    """``"412 [398, 431]"``; a quartile never reached prints as ``never``.

    A summary with no run left in (every run diverged) prints as ``-``: there is no
    step count to report, not a step count of "never".

    Example:
      >>> format_steps(summarize(np.array([np.nan, np.nan])))
      '-'
    """
    if summary["runs"] == 0:
        return "-"

    def show(value: float | None) -> str:
        return "never" if value is None else f"{value:.0f}"

    return f"{show(summary['median'])} [{show(summary['q25'])}, {show(summary['q75'])}]"
