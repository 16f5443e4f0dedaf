"""The package's shape, checked from its source: imports run one way (no cycles, nothing
importing the package it sits in, each part of the service importing only the parts below
it in ``ALLOWED``), and an installed copy carries its data files and the one version.

``python tests/test_layout.py`` prints the parts, their modules and what each imports.

The import graph is read with ``ast``, every ``import`` counted, even those inside a
function (a lazy import still joins two modules into one circle), except those under
``if TYPE_CHECKING:``, which never run.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":   # run as a script from anywhere: find the package beside tests/
    sys.path.insert(0, str(ROOT))

from aideator import __version__  # noqa: E402

PACKAGES = ("aideator", "agent")


def module_files() -> dict[str, Path]:
    """Dotted name -> file of every module of our packages (a package is its __init__)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if "node_modules" in parts:   # the engines' npm packages, not our modules
                continue
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def imports_of(name: str) -> list[tuple[str, str | None]]:
    """(module, name imported from it or None) for each of our modules ``name`` imports."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    skipped = _type_checking_only(tree)
    # What a relative import is relative to: the package itself, or the module's package.
    here = name if is_package(name) else name.rpartition(".")[0]
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[:len(here.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                # ``from package import module`` imports that module, not a name.
                found.append((submodule, None) if submodule in MODULES else
                             (source, alias.name))
    return [(module, what) for module, what in found if module in MODULES]


GRAPH = {name: sorted({module for module, _ in imports_of(name)} - {name})
         for name in MODULES}


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One circle of imports, as the list of modules around it, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in graph:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


# The parts of the service: each sub-package of aideator/, and each module at its top. The
# foundation imports nothing of ours and every part may import it.
FOUNDATION = {"config", "version", "naming"}
# What each part may import besides itself, the foundation and (where named) the agent's
# package. Read from the bottom up: a part lower in the table never imports one above it.
ALLOWED: dict[str, set[str]] = {
    "schemas": set(),
    "ops": set(),
    "store": set(),
    "stream": {"store", "ops", "agent"},
    "access": {"store", "schemas"},
    "github": {"store", "access", "agent"},
    "gateway": {"store", "access", "github", "ops"},
    "egress": {"store", "gateway"},
    "runtimes": {"egress", "ops", "agent"},
    "runs": {"stream", "store", "runtimes", "schemas", "ops", "agent"},
    "web": {"runtimes"},
    "api": {"access", "github", "runs", "stream", "store", "schemas", "runtimes", "ops"},
    "service": {"runs", "stream", "store", "gateway", "runtimes"},
    # The application factory wires everything together.
    "aideator": {"api", "gateway", "web", "egress", "service", "access", "store", "ops"},
    # The command line is a client of the public API (HTTP only): the foundation, no more.
    "cli": set(),
}


def part_of(module: str) -> str:
    """The part a module belongs to: ``aideator.stream.fanout`` -> ``stream``; the agent's
    modules are all ``agent``; the factory (``aideator`` itself) is ``aideator``."""
    parts = module.split(".")
    if parts[0] == "agent":
        return "agent"
    return parts[1] if len(parts) > 1 else "aideator"


def forbidden_imports() -> list[tuple[str, str]]:
    """(module, what it imports) for each import that crosses into a part it may not."""
    found = []
    for name in (m for m in MODULES if m.startswith("aideator")):
        here = part_of(name)
        may = {here} if here in FOUNDATION else {here} | FOUNDATION | ALLOWED[here]
        found += [(name, target) for target in GRAPH[name] if part_of(target) not in may]
    return found


def report() -> str:
    """A Markdown table: each part, its modules, what it may import and what it does."""
    rows = ["| part | modules | may import (besides the foundation) | imports |",
            "| --- | --- | --- | --- |"]
    for part in list(ALLOWED) + sorted(FOUNDATION):
        mine = [m for m in MODULES if m.startswith("aideator") and part_of(m) == part]
        modules = sorted({m.split(".")[2] for m in mine if m.count(".") >= 2})
        uses = sorted({part_of(t) for m in mine for t in GRAPH[m]} - {part} - FOUNDATION)
        rows.append(f"| {part} | {', '.join(modules) or '-'} | "
                    f"{', '.join(sorted(ALLOWED.get(part, ()))) or '-'} | {', '.join(uses) or '-'} |")
    return "\n".join(rows)


def test_each_part_imports_only_the_parts_below_it() -> None:
    assert forbidden_imports() == []


def test_the_allowed_table_is_itself_one_way_and_covers_every_part() -> None:
    # The table read as a graph of parts has no circle, so the parts stack in layers.
    assert find_cycle({part: sorted(may & set(ALLOWED)) for part, may in ALLOWED.items()}) is None
    parts = {part_of(m) for m in MODULES if m.startswith("aideator")}
    assert parts - FOUNDATION == set(ALLOWED)


def test_each_package_says_what_it_holds_and_what_it_may_import() -> None:
    # The docstring of each sub-package's __init__ names every part it may import, so the
    # rule a newcomer reads is the rule this file enforces.
    for part, may in ALLOWED.items():
        init = ROOT / "aideator" / part / "__init__.py"
        if not init.is_file():
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc, part
        missing = [other for other in may - {"agent"} if f"``{other}``" not in doc]
        assert missing == [], (part, missing)


def test_a_forbidden_import_is_caught(monkeypatch) -> None:
    # The event path reaching up into the API is what this check exists to refuse.
    monkeypatch.setitem(GRAPH, "aideator.stream.fanout",
                        GRAPH["aideator.stream.fanout"] + ["aideator.api.streams"])
    assert ("aideator.stream.fanout", "aideator.api.streams") in forbidden_imports()


def test_the_agent_imports_nothing_of_the_service() -> None:
    # The agent runs in its own image, which has no aideator package.
    assert [(m, t) for m in MODULES if m.startswith("agent") for t in GRAPH[m]
            if t.startswith("aideator")] == []


def test_the_module_walk_sees_the_packages_and_resolves_relative_imports() -> None:
    assert {"aideator", "aideator.api", "aideator.api.access", "aideator.runtimes.kubernetes",
            "aideator.runtimes.kubernetes.client", "agent.protocol"} <= set(MODULES)
    # ``from ... import tracing`` three levels down, ``from . import client as kube``.
    runtime = GRAPH["aideator.runtimes.kubernetes.runtime"]
    assert {"aideator.ops.tracing", "aideator.config", "aideator.runtimes.base",
            "aideator.runtimes.kubernetes.client"} <= set(runtime)
    # A lazy import counts: create_runtime imports the Kubernetes runtime only when asked.
    assert "aideator.runtimes.kubernetes" in GRAPH["aideator.runtimes"]


def test_the_cycle_finder_finds_a_circle_through_a_lazy_import() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) is None


def test_no_module_imports_itself_round_in_a_circle() -> None:
    assert find_cycle(GRAPH) is None


def test_nothing_imports_a_package_that_contains_it() -> None:
    # ``from .. import __version__`` in aideator.ops.tracing ran aideator/__init__ from inside
    # the package (and whatever that __init__ grows to import); a sibling module is fine.
    upward = [(name, package) for name in MODULES for package, _ in imports_of(name)
              if name.startswith(package + ".")]
    assert upward == []


def test_only_the_kubernetes_client_module_imports_kubernetes() -> None:
    def imports_kubernetes(node: ast.AST) -> bool:
        if isinstance(node, ast.Import):
            return any(alias.name.split(".")[0] == "kubernetes" for alias in node.names)
        return (isinstance(node, ast.ImportFrom) and not node.level
                and (node.module or "").split(".")[0] == "kubernetes")

    importers = [name for name, path in MODULES.items()
                 if any(map(imports_kubernetes, ast.walk(ast.parse(path.read_text()))))]
    assert importers == ["aideator.runtimes.kubernetes.client"]


def test_an_installed_copy_renders_the_job_from_its_own_template(tmp_path: Path) -> None:
    # What ``pip install`` would lay out (setup.cfg's packages and package_data), built
    # without the network; then the service is imported from there alone, not from here.
    lib, meta = tmp_path / "lib", tmp_path / "meta"
    meta.mkdir()
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q",
                    "egg_info", "--egg-base", str(meta), "build_py", "--build-lib", str(lib)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    (version_line,) = [line for line in next(meta.glob("*.egg-info")).joinpath("PKG-INFO")
                       .read_text().splitlines() if line.startswith("Version:")]
    assert version_line == f"Version: {__version__}"
    probe = ("import aideator, json\n"
             "from aideator.runtimes.kubernetes import manifests\n"
             "job = manifests.load_template()\n"
             "print(json.dumps([aideator.__file__, str(manifests.TEMPLATE_PATH), job['kind'],\n"
             "                  aideator.__version__]))")
    env = {**os.environ, "PYTHONPATH": str(lib)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    package_file, template, kind, version = json.loads(result.stdout)
    assert Path(package_file).is_relative_to(lib) and Path(template).is_relative_to(lib)
    assert (kind, version) == ("Job", __version__)
    for data in ("runtimes/launcher.sh", "schemas/openapi.yaml"):
        assert (lib / "aideator" / data).is_file(), data


def test_one_version_for_the_package_the_api_contract_and_health(client) -> None:
    from aideator.schemas import openapi_document
    assert openapi_document()["info"]["version"] == __version__
    assert client.get("/api/v1/health").get_json()["version"] == __version__


def test_the_top_level_manifests_folder_shows_the_template_the_service_reads():
    # manifests/ is where the project's layout puts the Job template; the service reads the
    # copy inside its package (installed with it), and this is that same file.
    from aideator.runtimes.kubernetes import manifests
    top = ROOT / "manifests" / "job.yaml"
    assert top.is_symlink() and top.resolve() == manifests.TEMPLATE_PATH


if __name__ == "__main__":
    print(report())
