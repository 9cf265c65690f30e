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
