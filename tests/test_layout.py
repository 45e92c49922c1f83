"""The test tree is a map of the code: one folder per package, at the package's own path.

``tests/ingress/schemes/`` holds the tests of ``ingress/schemes/``, and so on for every package
of ingress, streams, schemas and hookgate. Tests that belong to no one package have named folders
of their own (``CROSS_CUTTING``). This file is the only test at the top of ``tests/``: it tests
the tree itself, and one rule that holds for all the code it tests. The README's "Development"
section describes the layout.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests import REPO

TESTS = REPO / "tests"
PACKAGES = ("ingress", "streams", "schemas", "hookgate")
#: Test folders that mirror no package: the processes together on the broker (e2e), the fault
#: harness (faults), the chart, image and compose file (deploy).
CROSS_CUTTING = {"e2e", "faults", "deploy"}


def packages() -> set[Path]:
    """Every package of the four, as a path relative to the repository."""
    return {
        init.parent.relative_to(REPO)
        for top in PACKAGES
        for init in (REPO / top).rglob("__init__.py")
    }


def folders() -> set[Path]:
    """Every folder under tests/ that holds Python files, relative to tests/."""
    return {
        path.parent.relative_to(TESTS)
        for path in TESTS.rglob("*.py")
        if "__pycache__" not in path.parts and path.parent != TESTS
    }


def test_no_test_module_but_this_one_sits_at_the_top_of_tests() -> None:
    found = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert found == [Path(__file__).name], (
        f"move {[f for f in found if f != Path(__file__).name]} into the folder of the package "
        "they test (tests/ingress/..., tests/streams/...) or into tests/e2e"
    )


def test_every_package_has_its_test_folder() -> None:
    missing = sorted(str(p) for p in packages() if not (TESTS / p).is_dir())
    assert not missing, f"packages without a test folder (tests/<package path>/): {missing}"


def test_every_test_folder_is_a_package_or_a_folder_of_the_repository_or_cross_cutting() -> None:
    # A folder of the repository: e.g. tests/docs for docs/, tests/bench for bench/.
    strays = sorted(
        str(folder)
        for folder in folders()
        if folder.parts[0] not in CROSS_CUTTING and not (REPO / folder).is_dir()
    )
    assert not strays, f"test folders that mirror nothing in the repository: {strays}"


def test_every_test_folder_is_a_package() -> None:
    # Test modules are imported by their package path (tests.ingress.test_http), so two folders
    # may each have a test_properties.py.
    loose = sorted(str(f) for f in folders() if not (TESTS / f / "__init__.py").is_file())
    assert not loose, f"test folders without __init__.py: {loose}"


def test_no_runtime_code_checks_its_state_with_assert() -> None:
    # `python -O` removes assert statements: a state check there would silently vanish.
    found = sorted(
        f"{path.relative_to(REPO)}:{node.lineno}"
        for top in PACKAGES
        for path in (REPO / top).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Assert)
    )
    assert not found, f"raise an error instead of assert (python -O drops it): {found}"
