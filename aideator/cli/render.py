"""How a run looks in the terminal: one line per event, prefixed and coloured by variation
(thinking dimmed, each tool call on one line), a progress line per variation while they
run, and the comparison board as a table. rich does the colours and the layout, and
leaves them out where the output is not a terminal."""
from __future__ import annotations

import json
import os
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

COLOURS = ("cyan", "magenta", "green", "yellow", "blue")
WIDTH = 160   # the longest a line's text gets; the whole event is in the API


def colour(variation: int) -> str:
    return COLOURS[variation % len(COLOURS)]


def _short(value: Any, width: int = WIDTH) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _tool_input(data: dict) -> str:
    args = data.get("input") or {}
    if isinstance(args, dict):
        for key in ("command", "cmd", "file_path", "path", "pattern", "url"):
            if key in args:
                return _short(args[key], 100)
    return _short(args, 100)


def describe(kind: str, content: Any) -> tuple[str, str] | None:
    """(text, style) for one agent line, or None for one not worth a line (deltas)."""
    if not isinstance(content, dict):
        return _short(content), ""
    if kind.endswith("_delta") or kind in ("setup_output", "check_output", "env"):
        return None
    if kind == "thinking":
        return _short(content.get("thinking", "")), "dim italic"
    if kind == "text":
        return _short(content.get("text", "")), ""
    if kind == "tool_use":
        return f"⚙ {content.get('name', 'tool')}({_tool_input(content)})", "bold"
    if kind == "tool_result":
        mark = "✗" if content.get("is_error") else "↳"
        return f"  {mark} {_short(content.get('content', ''), 100)}", "dim"
    if kind == "status":
        extra = {k: v for k, v in content.items() if k in ("commit", "progress", "exit_code",
                                                             "files_changed")}
        return f"· {content.get('phase')} {_short(extra, 100) if extra else ''}".rstrip(), \
            "dim"
    if kind == "diff":
        return (f"diff: {len(content.get('files') or [])} file(s), "
                f"+{content.get('additions')} -{content.get('deletions')}"), "bold"
    if kind in ("check_started", "setup_started"):
        what = f"check {content.get('name')}" if kind == "check_started" else "setup"
        where = " (baseline)" if content.get("baseline") else ""
        return f"{what}{where}: {_short(content.get('command') or '', 100)}", "dim"
    if kind == "check_finished":
        verdict = "passed" if content.get("passed") else "failed"
        where = " (baseline)" if content.get("baseline") else ""
        return f"check {content.get('name')}{where}: {verdict}", \
            "green" if content.get("passed") else "red"
    if kind == "setup_finished":
        return f"setup: {'passed' if content.get('passed') else content.get('reason')}", ""
    if kind == "result":
        cost = content.get("total_cost_usd")
        return (f"result: {content.get('subtype')}, {content.get('num_turns')} turn(s)"
                + (f", ${cost:.4f}" if isinstance(cost, (int, float)) else "")), "bold"
    if kind == "error":
        return f"error {content.get('code')}: {_short(content.get('message', ''))}", "red"
    if kind == "log":
        return _short(content), "dim"
    return f"{kind}: {_short(content, 120)}", "dim"


def event_line(event: str, data: dict) -> Text | None:
    """The line for one SSE event of a run's stream, or None."""
    variation = data.get("variation_id")
    if event == "agent_output":
        found = describe(data.get("type", "log"), data.get("content"))
        if found is None:
            return None
        text, style = found
    elif event == "error":
        text, style = f"failed: {data.get('error')}", "red"
    elif event == "job_completed":
        text, style = "completed", "green"
    elif event == "status" and variation is not None:
        text, style = f"{data.get('status')}: {data.get('message')}", "dim"
    elif event in ("status", "run_finished"):
        return Text(f"run {data.get('run_id')}: {data.get('message') or data.get('status')}",
                    style="bold")
    else:
        return None
    if variation is None:
        return Text(text, style=style)
    line = Text(f"v{variation} │ ", style=colour(variation))
    line.append(text, style=style)
    return line


class Progress:
    """Where each variation is, in one line each (the live footer while a run streams)."""

    def __init__(self, count: int) -> None:
        self.state = {i: "queued" for i in range(count)}
        self.lines = {i: 0 for i in range(count)}
        self.last = {i: "" for i in range(count)}

    def update(self, event: str, data: dict) -> None:
        v = data.get("variation_id")
        if v not in self.state:
            return
        if event == "agent_output":
            self.lines[v] += 1
            kind = data.get("type", "")
            content = data.get("content")
            if kind == "status" and isinstance(content, dict):
                self.last[v] = str(content.get("phase"))
            elif kind in ("tool_use", "check_started", "setup_started", "diff"):
                self.last[v] = kind.replace("_", " ")
            if self.state[v] == "queued":
                self.state[v] = "running"
        elif event == "job_completed":
            self.state[v] = "succeeded"
        elif event == "error":
            self.state[v] = data.get("status") or "failed"
        elif event == "status" and data.get("status") in ("running", "queued", "waiting"):
            self.state[v] = data["status"]

    def __rich__(self) -> Group:
        rows = []
        for v, state in self.state.items():
            line = Text(f"v{v} ", style=f"bold {colour(v)}")
            line.append(f"{state:<10}", style="green" if state == "succeeded" else
                        "red" if state in ("failed", "cancelled") else "")
            line.append(f" {self.lines[v]:>5} lines  {self.last[v]}", style="dim")
            rows.append(line)
        return Group(*rows)


def board_table(board: dict) -> Table:
    table = Table(title=f"Run {board['run_id']}: {board['status']}", title_justify="left")
    for name in ("", "status", "engine", "checks", "tests", "files", "+/-", "cost", "time"):
        table.add_column(name, justify="right" if name in ("files", "cost", "time") else
                         "left")
    rows = [board["baseline"], *board["rows"]] if board.get("checks") else board["rows"]
    for row in rows:
        tests = row.get("tests") or {}
        mark = ""
        if row["variation_id"] is not None and row["variation_id"] == \
                board.get("winning_variation_id"):
            mark = " ★ chosen"
        elif row["variation_id"] is not None and row["variation_id"] == \
                board.get("suggested_variation_id"):
            mark = " ← suggested"
        checks = (f"{row['checks_passed']}/{len(board['checks'])} pass"
                  + (f", {row['checks_newly_failing']} newly failing"
                     if row.get("checks_newly_failing") else "")) if board.get("checks") \
            else "—"
        table.add_row(
            ("baseline" if row["variation_id"] is None else f"v{row['variation_id']}") + mark,
            row["status"] + (f" ({row['error']})" if row.get("error") else ""),
            row.get("engine") or "",
            checks,
            f"{tests.get('passed', 0)} passed, {tests.get('failed', 0)} failed" if tests
            else "—",
            "" if row.get("files_changed") is None else str(row["files_changed"]),
            "" if row.get("additions") is None else
            f"+{row['additions']} -{row['deletions']}",
            "" if row.get("cost_usd") is None else f"${row['cost_usd']:.4f}",
            "" if row.get("duration_seconds") is None else f"{row['duration_seconds']:.1f}s")
    return table


def console(*, stderr: bool = False) -> Console:
    """Colours on a terminal only; piped or in a file, lines wide enough for the board
    (rich's default there is 80 columns) unless COLUMNS says otherwise."""
    out = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 140
    return out
