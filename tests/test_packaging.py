"""Packaging: the license, the declared dependencies and the API reference's pages.

These read files only (no import of jaxloss, no build): the wheel and sdist
themselves are built and installed on their own by ``.ci/run``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jaxloss"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Layers that need the ``examples`` extra (STYLE.md: optax, plotting and datasets live
# behind extras); everything else is the core, which needs the dependencies only.
EXTRA_LAYERS = ("train",)
# Public modules without a page of their own: the command line is documented by its
# ``--help``, and ``checked``'s one public name is re-exported (and shown) by jaxloss.
UNDOCUMENTED_MODULES = {"jaxloss.cli", "jaxloss.checked"}


def requirement_name(requirement: str) -> str:
    """``"jax>=0.10.2"`` -> ``"jax"``, normalized as in PEP 503."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group()).lower()


def module_level_imports(path: pathlib.Path) -> set[str]:
    """Top-level names imported unconditionally when ``path`` is imported.

    Imports inside functions or ``if TYPE_CHECKING:`` are left out: they run only
    when the function that needs an extra is called.
    """
    names = set()
    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, ast.Import):
            names |= {alias.name.split(".")[0] for alias in statement.names}
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0:
            assert statement.module is not None
            names.add(statement.module.split(".")[0])
    return names


def test_license_file_is_the_declared_apache_license():
    assert PYPROJECT["license"] == "Apache-2.0"
    assert PYPROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_core_modules_import_only_declared_dependencies():
    declared = {requirement_name(r) for r in PYPROJECT["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in EXTRA_LAYERS:
            continue
        for name in module_level_imports(path):
            if name in sys.stdlib_module_names or name == "jaxloss" or name == "__future__":
                continue
            providers = {requirement_name(d) for d in distributions.get(name, [name])}
            if not providers & declared:
                undeclared.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert not undeclared, (
        f"imported by the core but not in [project] dependencies: {undeclared}; declare "
        "it, or import it inside the function that needs it and list it in an extra"
    )


def test_chex_is_a_test_dependency_only():
    # The library does not import chex (checked above); the tests do.
    runtime = {requirement_name(r) for r in PYPROJECT["dependencies"]}
    dev = {requirement_name(r) for r in PYPROJECT["optional-dependencies"]["dev"]}
    assert "chex" not in runtime
    assert "chex" in dev


def test_every_public_module_has_an_api_page():
    public = {"jaxloss"}
    for path in PACKAGE.iterdir():
        name = path.stem if path.suffix == ".py" else path.name
        is_module = path.suffix == ".py" or (path / "__init__.py").is_file()
        if is_module and not name.startswith("_"):
            public.add(f"jaxloss.{name}")
    pages = set()
    for page in (ROOT / "docs" / "api").glob("*.rst"):
        pages |= set(re.findall(r"^\.\. public-names:: (\S+)$", page.read_text(), re.M))
    assert pages == public - UNDOCUMENTED_MODULES
