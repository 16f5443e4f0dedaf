"""Every test the adversarial suite's table (README.md here) names exists, so the table
of attacks and where each is proven stays true."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = Path(__file__).with_name("README.md")


def named_tests() -> list[tuple[str, str]]:
    return re.findall(r"\| (tests/[\w/]+\.py)::(\w+) \|", TABLE.read_text())


def test_every_attack_names_a_test_that_exists():
    named = named_tests()
    assert len(named) >= 30
    missing = []
    for path, name in named:
        tree = ast.parse((ROOT / path).read_text())
        if name not in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}:
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_test_of_the_suite_is_in_the_table():
    named = {(p, n) for p, n in named_tests()}
    here = Path(__file__).parent
    for module in sorted(here.glob("test_*.py")):
        if module.name == Path(__file__).name:
            continue
        path = str(module.relative_to(ROOT))
        tree = ast.parse(module.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                assert (path, node.name) in named, f"{path}::{node.name} is not in README.md"
