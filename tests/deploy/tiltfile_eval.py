"""Evaluate the Tiltfile with a real Starlark interpreter (starlark-rust, via the
starlark-pyo3 wheel) and stub Tilt builtins that record their calls.

The stubs are deliberately thin: they accept the arguments Tilt's builtins accept and
return placeholder values, so the test checks that the Tiltfile parses and runs under
Starlark's rules (no Python-only syntax) and what it asks Tilt to do.
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any, Callable

import starlark as sl

# Tilt's Starlark: top-level if/for, f-strings off, load() of extensions (none used here).
PRELUDE = """
config = struct(tilt_subcommand = _tilt_subcommand())
os = struct(getenv = _os_getenv)
"""

BUILTINS = ["allow_k8s_contexts", "docker_build", "fall_back_on", "sync", "run",
            "local_resource", "k8s_yaml", "helm", "k8s_resource", "link", "local",
            "fail", "custom_build", "watch_file", "read_file", "blob", "k8s_kind"]


@dataclass
class TiltRun:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    module: Any = None

    def called(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for n, args, kwargs in self.calls if n == name]

    def one(self, name: str, first_arg: Any = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        found = [(a, k) for a, k in self.called(name) if first_arg is None
                 or (a and a[0] == first_arg)]
        assert len(found) == 1, f"expected one {name}({first_arg!r}), got {found}"
        return found[0]


def evaluate(path: pathlib.Path, *, subcommand: str = "up", context: str = "k3d-aideator",
             environ: dict[str, str] | None = None) -> TiltRun:
    run = TiltRun()
    environ = environ or {}

    def recorder(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            run.calls.append((name, args, kwargs))
            if name == "fail":
                raise RuntimeError(f"Tiltfile fail(): {args[0]}")
            if name == "helm":
                return f"<helm {args[0]}>"
            return None
        return call

    dialect = sl.Dialect.extended()
    dialect.enable_top_level_stmt = True
    dialect.enable_f_strings = False
    globals_ = sl.Globals.extended_by([sl.LibraryExtension.StructType,
                                       sl.LibraryExtension.Print])
    module = sl.Module()
    for name in BUILTINS:
        module.add_callable(name, recorder(name))
    module.add_callable("k8s_context", lambda: context)
    module.add_callable("_tilt_subcommand", lambda: subcommand)
    module.add_callable("_os_getenv", lambda key, default="": environ.get(key, default))
    sl.eval(module, sl.parse("prelude", PRELUDE, dialect), globals_)
    sl.eval(module, sl.parse(str(path), path.read_text(), dialect), globals_)
    run.module = module
    return run
