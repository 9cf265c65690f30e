"""Test-wide settings: surface silent upcasts and rank broadcasts as errors.

Warnings are turned into errors in pyproject.toml (``filterwarnings = ["error"]``).
"""

import jax

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
