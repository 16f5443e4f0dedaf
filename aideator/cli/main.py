"""The ``aideator`` commands (click): run, runs, show, diff, choose, apply, iterate, cancel.

Every command talks to the service named by ``--url`` (``AIDEATOR_URL``, default the
embedded one on 127.0.0.1:8000) with the token in ``AIDEATOR_TOKEN`` if any, prints JSON
with ``--json``, and exits non-zero when it fails (2 for a usage error, as click does).
"""
from __future__ import annotations

import functools
import json
import os
import re
import sys
import time
from typing import Any, Callable

import click
from rich.live import Live

from . import apply as applying
from . import embedded, render
from .client import ApiError, Client, Unreachable

_CHECK_NAME = re.compile(r"[^A-Za-z0-9 _.:/+-]+")


def common(command: Callable) -> Callable:
    """--url and --json on every command, and its failures as a message and exit 1."""
    @click.option("--url", envvar="AIDEATOR_URL", default=embedded.DEFAULT_URL,
                  show_default=True, help="The AIdeator service (env AIDEATOR_URL). Its "
                  "token, if it needs one, comes from AIDEATOR_TOKEN.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
    @functools.wraps(command)
    def wrapper(url: str, as_json: bool, **kwargs: Any) -> Any:
        client = Client(url, os.environ.get("AIDEATOR_TOKEN") or None)
        try:
            return command(client, as_json, **kwargs)
        except (ApiError, Unreachable, applying.Refused) as exc:
            if as_json:
                click.echo(json.dumps({"error": getattr(exc, "error", "refused"),
                                       "detail": getattr(exc, "detail", str(exc))}))
            else:
                render.console(stderr=True).print(f"[red]aideator:[/red] {exc}",
                                                  markup=True, highlight=False)
            sys.exit(1)
    return wrapper


def _emit(as_json: bool, value: Any, text: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(value, indent=2))
    else:
        text()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aideator", message="aideator %(version)s")
def cli() -> None:
    """Run several coding agents on the repository you are in, watch them think, compare
    them, and take the winner back into your working tree.

    \b
      aideator run "make the failing test pass" -n 3 --check "pytest -q"
      aideator apply RUN 1
    """


def _checks(commands: tuple[str, ...]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for i, command in enumerate(commands):
        name = _CHECK_NAME.sub("-", command).strip()[:64].strip()
        if not name or not name[0].isalnum() or any(c["name"] == name for c in found):
            name = f"check {i + 1}"
        found.append({"name": name, "command": command})
    return found


def _variation_configs(count: int, engines: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"engine": engines[i % len(engines)]} for i in range(count)] if engines else []


def agent_options(command: Callable) -> Callable:
    for option in reversed([
        click.option("-n", "--variations", type=click.IntRange(1, 5), default=None,
                     help="How many variations (1 to 5; default 3, or one per --engine)."),
        click.option("--engine", "engines", multiple=True, metavar="NAME",
                     help="An engine (claude-code, codex, gemini); repeat it to give the "
                          "variations different ones, in turn."),
        click.option("--model", default=None, help="The model every variation uses."),
        click.option("--check", "checks", multiple=True, metavar="COMMAND",
                     help="A command that tells whether a variation's work is good (e.g. "
                          "\"pytest -q\"); repeatable."),
        click.option("--setup", default=None, metavar="COMMAND",
                     help="One command run once before the agents (e.g. installing the "
                          "dependencies), with registry access only."),
        click.option("--detach", is_flag=True,
                     help="Start the run and return; watch it later with `aideator show`."),
    ]):
        command = option(command)
    return command


def _body(prompt: str, variations: int | None, engines: tuple[str, ...], model: str | None,
          checks: tuple[str, ...], setup: str | None) -> dict[str, Any]:
    count = variations or (len(engines) if len(engines) > 1 else 3)
    body: dict[str, Any] = {"prompt": prompt, "variations": count}
    configs = _variation_configs(count, engines)
    if configs:
        body["variation_configs"] = configs
    if model:
        body["agent_config"] = {"model": model}
    if checks:
        body["checks"] = _checks(checks)
    if setup:
        body["setup"] = setup
    return body


@cli.command()
@click.argument("prompt")
@agent_options
@click.option("--repo", type=click.Path(exists=True, file_okay=False), default=".",
              help="The repository (default: the one you are in).")
@click.option("--ref", default=None, help="Start from this commit, branch or tag "
                                         "(default: HEAD).")
@click.option("-u", "--include-uncommitted", is_flag=True,
              help="Start from the working tree as it is, uncommitted and untracked files "
                   "included (ignored ones left out).")
@common
def run(client: Client, as_json: bool, prompt: str, repo: str, ref: str | None,
        include_uncommitted: bool, detach: bool, **options: Any) -> None:
    """Start a run of PROMPT on the repository you are in and watch every variation."""
    started = time.monotonic()
    top = applying.toplevel(os.path.abspath(repo))
    say = render.console(stderr=True).print
    embedded.ensure(client, say)
    body = {**_body(prompt, **options), "repo_path": top}
    if ref:
        body["ref"] = ref
    if include_uncommitted:
        body["include_uncommitted"] = True
    created = client.call("POST", "/runs", body)
    _follow(client, as_json, created, body["variations"], detach, started)


def _follow(client: Client, as_json: bool, created: dict, count: int, detach: bool,
            started: float) -> None:
    run_id = created["run_id"]
    out = render.console()
    if detach:
        _emit(as_json, created, lambda: out.print(
            f"run {run_id} started; `aideator show {run_id}` shows it"))
        return
    if not as_json:
        out.print(f"run {run_id}: {count} variation(s) — Ctrl-C stops watching (the run "
                  f"goes on)", style="bold")
    progress = render.Progress(count)
    first_line = None
    try:
        with Live(progress, console=out, transient=True,
                  auto_refresh=out.is_terminal and not as_json) as live:
            for event, data in client.events(created["stream_url"]):
                progress.update(event, data)
                if as_json:
                    continue
                line = render.event_line(event, data)
                if line is not None:
                    if first_line is None and event == "agent_output":
                        first_line = time.monotonic() - started
                    out.print(line)
                if out.is_terminal:
                    live.refresh()
    except KeyboardInterrupt:
        out.print(f"\nstopped watching; run {run_id} goes on: `aideator show {run_id}`, "
                  f"`aideator cancel {run_id}`")
        sys.exit(130)
    board = client.call("GET", f"/runs/{run_id}/comparison")
    if as_json:
        click.echo(json.dumps({"run": created, "board": board}, indent=2))
    else:
        out.print(render.board_table(board))
        timing = f"first agent line after {first_line:.1f}s, " if first_line else ""
        out.print(f"{timing}board after {time.monotonic() - started:.1f}s", style="dim")
        out.print(f"next: `aideator diff {run_id} V`, `aideator apply {run_id} V`, "
                  f"`aideator iterate {run_id} V \"...\"`", style="dim")
    if board["status"] != "completed":
        sys.exit(1)


@cli.command()
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@common
def runs(client: Client, as_json: bool, limit: int) -> None:
    """List the latest runs."""
    page = client.call("GET", f"/runs?limit={limit}")

    def text() -> None:
        from rich.table import Table
        table = Table()
        for name in ("run", "status", "created", "repository", "prompt", "winner"):
            table.add_column(name)
        for r in page["runs"]:
            table.add_row(r["run_id"], r["status"], (r.get("created_at") or "")[:19],
                          r.get("github_url") or "", render._short(r.get("prompt") or "", 50),
                          "" if r.get("winning_variation_id") is None
                          else f"v{r['winning_variation_id']}")
        render.console().print(table)
    _emit(as_json, page, text)


@cli.command()
@click.argument("run_id", metavar="RUN")
@common
def show(client: Client, as_json: bool, run_id: str) -> None:
    """A run's details and its comparison board."""
    detail = client.call("GET", f"/runs/{run_id}")
    board = client.call("GET", f"/runs/{run_id}/comparison")

    def text() -> None:
        out = render.console()
        source = detail.get("source") or {}
        where = source.get("path") or detail["github_url"]
        out.print(f"run {detail['run_id']} ({detail['status']}) on {where}"
                  + (f" at {source['commit'][:12]}" if source.get("commit") else ""),
                  style="bold")
        out.print(f"prompt: {detail['prompt']}")
        out.print(render.board_table(board))
    _emit(as_json, {"run": detail, "board": board}, text)


def _diff(client: Client, run_id: str, variation: int) -> dict:
    return client.call("GET", f"/runs/{run_id}/variations/{variation}/diff")


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("variation", metavar="V", type=int)
@common
def diff(client: Client, as_json: bool, run_id: str, variation: int) -> None:
    """Print variation V's change (a patch against the run's base commit)."""
    found = _diff(client, run_id, variation)
    _emit(as_json, found, lambda: click.echo(found["patch"], nl=False))


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("variation", metavar="V", type=int)
@common
def choose(client: Client, as_json: bool, run_id: str, variation: int) -> None:
    """Record variation V as the run's winner."""
    chosen = client.call("POST", f"/runs/{run_id}/select", {"winning_variation_id": variation})
    _emit(as_json, chosen, lambda: render.console().print(
        f"variation {variation} is the winner of run {run_id}"))


@cli.command(name="apply")
@click.argument("run_id", metavar="RUN")
@click.argument("variation", metavar="V", type=int)
@click.option("--branch", default=None, help="The new branch's name (default: "
                                             "aideator/RUN-vV).")
@click.option("--no-branch", is_flag=True, help="Apply the change to the working tree as "
                                                "uncommitted changes instead.")
@click.option("--repo", type=click.Path(exists=True, file_okay=False), default=".",
              help="The repository (default: the one you are in).")
@common
def apply_change(client: Client, as_json: bool, run_id: str, variation: int,
                 branch: str | None, no_branch: bool, repo: str) -> None:
    """Take variation V's change into your working tree, as a new branch (checked out,
    your other uncommitted changes carried along) or, with --no-branch, as uncommitted
    changes. Refuses, changing nothing, when a file it touches has uncommitted changes."""
    top = applying.toplevel(os.path.abspath(repo))
    found = _diff(client, run_id, variation)
    if found.get("truncated"):
        raise applying.Refused(f"variation {variation}'s change was cut at the agent's size "
                               "limit: it cannot be applied whole")
    detail = client.call("GET", f"/runs/{run_id}")
    message = (f"AIdeator: run {run_id}, variation {variation}\n\n{detail['prompt']}\n")
    done = applying.apply(top, found["patch"], message=message,
                          branch=None if no_branch else branch or
                          f"aideator/{run_id}-v{variation}")
    _emit(as_json, done, lambda: render.console().print(
        f"applied variation {variation} of run {run_id} "
        + (f"on the new branch {done['branch']} (checked out)" if done["applied"] == "branch"
           else "to your working tree as uncommitted changes")
        + f": {len(done['files'])} file(s)"))


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("variation", metavar="V", type=int)
@click.argument("prompt")
@agent_options
@common
def iterate(client: Client, as_json: bool, run_id: str, variation: int, prompt: str,
            detach: bool, **options: Any) -> None:
    """Start a new run from variation V's change, with a new PROMPT."""
    started = time.monotonic()
    parent = client.call("GET", f"/runs/{run_id}")
    body = {**_body(prompt, **options), "from": {"run_id": run_id, "variation_id": variation}}
    source = parent.get("source") or {}
    if source.get("path"):
        body["repo_path"] = source["path"]
    else:
        body["github_url"] = parent["github_url"]
    created = client.call("POST", "/runs", body)
    _follow(client, as_json, created, body["variations"], detach, started)


@cli.command()
@click.argument("run_id", metavar="RUN")
@common
def cancel(client: Client, as_json: bool, run_id: str) -> None:
    """Stop a run's unfinished variations."""
    answer = client.call("POST", f"/runs/{run_id}/cancel")
    _emit(as_json, answer, lambda: render.console().print(f"run {run_id} is being cancelled"))


def main() -> None:
    cli(prog_name="aideator")
