"""``import jaxloss`` loads the losses only; the layers above load on first use.

Each check runs in a fresh interpreter, since this test session has long since
imported everything.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("optax", "matplotlib", "sklearn", "torch")


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return result.stdout.strip()


def test_import_jaxloss_imports_none_of_the_heavy_libraries():
    loaded = run_python(
        f"import sys, jaxloss\nprint(','.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    assert loaded == ""


def test_submodules_are_attributes_after_a_plain_import():
    output = run_python(
        "import jaxloss\n"
        "print(jaxloss.analysis.saturation_region.__name__)\n"
        "print(jaxloss.train.__name__)\n"
        "print(jaxloss.torch_compat.MSELoss.__name__)\n"
        "print(jaxloss.gradients.mse.__module__, jaxloss.hessians.mse.__module__)"
    )
    assert output.splitlines() == [
        "saturation_region",
        "jaxloss.train",
        "MSELoss",
        "jaxloss.gradients jaxloss.hessians",
    ]


def test_unknown_attributes_raise_attribute_error():
    output = run_python(
        "import jaxloss\n"
        "for module in (jaxloss, jaxloss.gradients, jaxloss.hessians):\n"
        "    try:\n"
        "        module.no_such_loss\n"
        "    except AttributeError as error:\n"
        "        print(type(error).__name__)"
    )
    assert output.splitlines() == ["AttributeError"] * 3


def test_dir_lists_every_public_name():
    import jaxloss
    from jaxloss.registry import LOSSES

    assert set(LOSSES) <= set(dir(jaxloss))
    assert {"analysis", "train", "torch_compat", "checked"} <= set(dir(jaxloss))
    assert sorted(jaxloss.gradients.__all__) == sorted(LOSSES) == dir(jaxloss.hessians)
    for name in jaxloss.__all__:
        assert getattr(jaxloss, name) is not None


def test_no_import_cycles_between_jaxloss_modules_not_even_for_types():
    """Every ``jaxloss`` import, at module level, in a function or under TYPE_CHECKING."""
    import ast
    import pathlib

    package = pathlib.Path(__file__).resolve().parents[1] / "jaxloss"
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                edges.update(name for name in [node.module, *names] if name.startswith("jaxloss"))
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name.startswith("jaxloss"))

    # A package's __init__ re-exporting its submodules is not a cycle of the design:
    # only edges between distinct modules that are not each other's package count.
    def depends(source: str, target: str) -> bool:
        return target in graph and target != source and not source.startswith(target + ".")

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for target in graph.get(start, ()):
            if not depends(start, target) or target in seen:
                continue
            if target == goal:
                return True
            seen.add(target)
            if reaches(target, goal, seen):
                return True
        return False

    cycles = [
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if depends(source, target)
        and not target.startswith(source + ".")
        and reaches(target, source, set())
    ]
    assert cycles == []
