"""Sphinx configuration for the jaxloss API reference.

Each page names one public module; the ``public-names`` directive below renders every
name in that module's ``__all__`` (or, in a module without one, every public name it
defines) with autodoc, read at build time, so a loss added to a module appears here
without editing the docs. Build (warnings are errors)::

    sphinx-build -E -W --keep-going -b html docs/api docs/api/_build/html
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import sys
import types
import typing
from typing import Any

from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

# The checkout, not an installed copy, is what the reference describes.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import jaxloss

project = "jaxloss"
release = jaxloss.__version__
version = release
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []

napoleon_google_docstring = True
napoleon_numpy_docstring = False
# ``Attributes:`` sections become fields of their class, not separate attribute
# entries that would collide with the ones autodoc finds on dataclasses.
napoleon_use_ivar = True
autodoc_member_order = "bysource"
# Without this an undocumented ``__call__`` shows ``object``'s "Call self as a function."
autodoc_inherit_docstrings = False
# Annotations are strings (``from __future__ import annotations``); show these aliases
# by name rather than expanded into the unions behind them.
autodoc_type_aliases = {
    "ArrayLike": "jax.typing.ArrayLike",
    "Reduction": "jaxloss.Reduction",
}


def public_names(module: types.ModuleType) -> list[str]:
    """The names a module exports: its ``__all__``.

    A module without ``__all__`` exports the public names it defines itself (a
    function, class or value whose ``__module__`` is this module, or a value without
    one), not the names it imports.
    """
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return list(exported)
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if getattr(value, "__module__", module.__name__) == module.__name__:
            names.append(name)
    return names


def _directive(qualified_name: str, value: Any) -> list[str]:
    if inspect.ismodule(value):
        return [f":mod:`{value.__name__}`", ""]
    if inspect.isclass(value):
        return [
            f".. autoclass:: {qualified_name}",
            "   :members:",
            "   :special-members: __call__",
            "",
        ]
    # A typing alias (``Literal[...]``) is callable, but is data, not a function; its
    # value is what it means.
    if typing.get_origin(value) is not None:
        return [f".. autodata:: {qualified_name}", ""]
    if callable(value):
        return [f".. autofunction:: {qualified_name}", ""]
    # A table's value is too long to print; its annotation says what it holds.
    return [f".. autodata:: {qualified_name}", "   :no-value:", ""]


class PublicNames(SphinxDirective):
    """``.. public-names:: jaxloss.gradients``: autodoc for each name it exports."""

    required_arguments = 1

    def run(self) -> list[Any]:
        module_name = self.arguments[0]
        module = importlib.import_module(module_name)
        if module.__file__ is not None:
            self.env.note_dependency(module.__file__)
        lines: list[str] = []
        for name in public_names(module):
            lines += _directive(f"{module_name}.{name}", getattr(module, name))
        return self.parse_text_to_nodes("\n".join(lines))


def _drop_inherited_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """A value is documented by a ``#:`` comment at its definition, not by its type.

    Without one, autodoc falls back on the type's docstring (``dict``'s, say).
    """
    if what == "data" and lines and inspect.getdoc(type(obj)) == inspect.getdoc(obj):
        lines.clear()


def _readable_signature(
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    """Spell out two things autodoc prints that are not Python.

    An alias inside a union prints as ``TypeAliasForwardRef('jax.typing.ArrayLike')``;
    a dataclass field's ``default_factory`` prints as ``<factory>``, which stops the
    signature from being parsed (its annotations then show as raw text).
    """
    if signature is None:
        return None
    signature = re.sub(r"TypeAliasForwardRef\('([^']*)'\)", r"\1", signature)
    signature = signature.replace("<factory>", "...")
    return signature, return_annotation


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("public-names", PublicNames)
    app.connect("autodoc-process-docstring", _drop_inherited_docstring)
    app.connect("autodoc-process-signature", _readable_signature)
    return {"parallel_read_safe": True}
