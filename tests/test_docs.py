"""The README stays true: every setting the code reads is documented, every benchmark is listed."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT
from workers.settings import Settings

README = (REPO_ROOT / "README.md").read_text()
COMPOSE_ONLY = {"INTERPBOARD_PORT", "INTERPBOARD_FLOWER_PORT", "INTERPBOARD_CACHE_MEMORY"}  # docs/deploy.md


def _variables_in_code() -> set[str]:
    found = {f"INTERPBOARD_{name.upper()}" for name in Settings.model_fields}
    for room in ("interp", "cache", "workers", "dashapp"):
        for path in (REPO_ROOT / room).rglob("*.py"):
            found |= set(re.findall(r"INTERPBOARD_[A-Z_]+[A-Z]", path.read_text()))
    return found


def test_every_environment_variable_is_in_the_readme():
    missing = sorted(v for v in _variables_in_code() - COMPOSE_ONLY if f"`{v}`" not in README)
    assert not missing, f"undocumented settings: {missing}"


def test_compose_only_variables_are_in_the_deploy_guide():
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    assert all(f"`{v}`" in guide for v in COMPOSE_ONLY)


def test_every_benchmark_is_in_the_readme():
    scripts = sorted(p.name for p in (REPO_ROOT / "benchmarks").glob("*.py"))
    assert scripts and all(f"`{name}" in README for name in scripts)


def test_the_two_commands_are_the_makefile_targets():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "make run" in README and "make test" in README
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
