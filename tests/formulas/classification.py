"""Textbook formulas: classification (see tests/formulas/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMULAS: dict[str, Callable[..., Any]] = {}
