"""The agent's pure parts: settings, output hygiene, event translation, path guard, diff."""
from __future__ import annotations

import asyncio
import io
import json
import math
import subprocess

import pytest
from claude_agent_sdk import (AssistantMessage, ResultMessage, StreamEvent, SystemMessage,
                              TextBlock, ToolResultBlock, ToolUseBlock, UserMessage)

from agent import config, diff, git, guard, protocol
from agent.engines import claude_code
from agent.output import Emitter, Scrubber, clip, secrets_from
from agent.translate import Translator
from tests.agent.harness import API_KEY, make_repo

BASE = {"PROMPT": "do it", "REPO_URL": "https://github.com/acme/widgets",
        "WORKSPACE": "/tmp/ws", "ANTHROPIC_API_KEY": API_KEY}


# -- settings ------------------------------------------------------------------------------

def test_defaults_and_what_the_engine_applies():
    settings = config.load({**BASE, "TEMPERATURE": "0.7", "VARIATION_ID": "2"})
    assert settings.model == config.DEFAULT_MODEL and settings.max_turns == 30
    assert settings.clone_dir == "/tmp/ws/repo" and settings.variation_id == 2
    report = claude_code.report(settings)
    assert report["applied"] == {"model": config.DEFAULT_MODEL, "max_turns": 30,
                                 "tools": "shell"}
    assert report["not_applied"]["temperature"]["value"] == 0.7


def test_every_knob_is_read():
    settings = config.load({**BASE, "MODEL": "claude-opus-4-1", "MAX_TURNS": "5",
                            "MAX_BUDGET_USD": "0.5", "EFFORT": "low",
                            "MAX_THINKING_TOKENS": "0", "TOOLS": "files",
                            "REPO_URL": "https://github.com/a/b.git"})
    assert claude_code.report(settings)["applied"] == {
        "model": "claude-opus-4-1", "max_turns": 5, "max_budget_usd": 0.5, "effort": "low",
        "max_thinking_tokens": 0, "tools": "files"}
    assert claude_code.report(settings)["not_applied"] == {}


def test_empty_values_count_as_unset():
    assert config.load({**BASE, "MAX_TURNS": "", "MODEL": ""}).max_turns == 30


@pytest.mark.parametrize("name,value", [
    ("PROMPT", None), ("PROMPT", "   "), ("REPO_URL", None),
    ("REPO_URL", "https://gitlab.com/acme/widgets"), ("REPO_URL", "http://github.com/a/b"),
    ("REPO_URL", "https://github.com/acme/widgets/tree/main"),
    ("REPO_URL", "https://github.com/-acme/widgets"), ("REPO_URL", "git@github.com:a/b.git"),
    ("MAX_TURNS", "many"), ("MAX_TURNS", "0"), ("MAX_TURNS", "2.5"),
    ("TEMPERATURE", "hot"), ("TEMPERATURE", "NaN"), ("TEMPERATURE", "1.5"),
    ("MAX_BUDGET_USD", "0"), ("MAX_BUDGET_USD", "inf"), ("EFFORT", "extreme"),
    ("MAX_THINKING_TOKENS", "-1"), ("MODEL", "claude sonnet"), ("WORKSPACE", "relative/dir"),
    ("VARIATION_ID", "first"), ("ANTHROPIC_API_KEY", None), ("TOOLS", "bash"),
])
def test_invalid_settings_name_the_variable(name, value):
    env = {**BASE, name: value}
    with pytest.raises(config.ConfigError) as caught:
        config.load({k: v for k, v in env.items() if v is not None})
    assert caught.value.field == name


# -- output --------------------------------------------------------------------------------

def test_secrets_are_scrubbed_everywhere():
    env = {"ANTHROPIC_API_KEY": API_KEY, "GITHUB_TOKEN": "ghp_abcdefgh",
           "MAX_THINKING_TOKENS": "100000", "GIT_CONFIG_KEY_0": "url.file:///x/.insteadOf"}
    assert set(secrets_from(env)) == {API_KEY, "ghp_abcdefgh"}
    out, err = io.StringIO(), io.StringIO()
    emitter = Emitter(Scrubber(secrets_from(env)), out, err)
    emitter.emit("error", message=f"bad key {API_KEY}", nested={"list": [API_KEY, 1.5]},
                 url="https://user:pw@mirror.example/acme.git", count=100000)
    emitter.log(f"stderr with {API_KEY}")
    assert API_KEY not in out.getvalue() + err.getvalue()
    line = json.loads(out.getvalue())
    assert line["nested"]["list"] == ["[REDACTED]", 1.5]
    assert line["url"] == "https://[REDACTED]@mirror.example/acme.git"
    assert line["count"] == 100000


def test_lines_are_strict_json():
    out = io.StringIO()
    Emitter(Scrubber([]), out, io.StringIO()).emit("result", total_cost_usd=math.nan,
                                                   usage={"x": math.inf})
    line = out.getvalue()
    assert "NaN" not in line and "Infinity" not in line
    assert protocol.parse(line) == {"v": 1, "type": "result", "total_cost_usd": None,
                                    "usage": {"x": None}}


def test_clip_respects_utf8_boundaries():
    text, cut = clip("é" * 10, 5)
    assert cut and text == "éé"
    assert clip("short", 10) == ("short", False)


# -- translation ---------------------------------------------------------------------------

def _translate(messages):
    events = []
    translator = Translator(lambda type_, **fields: events.append({"type": type_, **fields}))
    for message in messages:
        translator.feed(message)
    return translator, events


def test_blocks_get_the_index_their_deltas_had():
    translator, events = _translate([
        StreamEvent("u1", "s", {"type": "message_start", "message": {"id": "m1"}}),
        StreamEvent("u2", "s", {"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": "Hi"}}),
        AssistantMessage([TextBlock("Hi")], "claude", message_id="m1"),
        AssistantMessage([ToolUseBlock("t1", "Write", {"content": "x" * 5000})], "claude",
                         message_id="m1"),
        UserMessage([ToolResultBlock("t1", [{"type": "text", "text": "ok"},
                                            {"type": "image"}], None)]),
    ])
    delta, text, tool, result = events
    assert delta == {"type": "text_delta", "message_id": "m1", "index": 0, "text": "Hi"}
    assert (text["message_id"], text["index"]) == ("m1", 0)
    assert tool["index"] == 1 and tool["truncated"] is True
    assert len(tool["input"]["content"]) == 4096
    assert result == {"type": "tool_result", "tool_use_id": "t1", "name": "Write",
                      "content": "ok\n[image]", "truncated": False, "is_error": False}


def test_api_failure_messages_become_a_model_error_not_text():
    translator, events = _translate([
        SystemMessage("api_retry", {"attempt": 1, "max_retries": 1, "retry_delay_ms": 500,
                                    "error_status": 401, "error": "authentication_failed"}),
        AssistantMessage([TextBlock("Invalid API key")], "<synthetic>",
                         error="authentication_failed"),
        ResultMessage("success", 10, 0, True, 1, "s", result="Invalid API key"),
    ])
    assert [e["type"] for e in events] == ["status", "result"]
    assert events[0]["phase"] == "retrying" and events[0]["error_status"] == 401
    failure = translator.model_failure
    assert failure and failure.reason == "authentication_failed" and failure.status == 401



def test_the_gateways_budget_refusal_is_a_limit_reached_with_the_work_kept():
    from agent.run import _outcome
    message = ("API Error: 400 aideator gateway: budget exhausted: this variation's model "
               "calls cost $0.2400, its max_budget_usd is $0.2000")
    translator, _ = _translate([
        AssistantMessage([TextBlock(message)], "<synthetic>", error="invalid_request"),
        ResultMessage("success", 10, 0, True, 3, "s", result=message)])
    outcome = _outcome(translator, None)
    assert (outcome.code, outcome.message) == ("limit_reached", message)
    assert outcome.detail["reason"] == "max_budget_usd" and outcome.has_work
    # Any other refusal of the model stays a model error.
    translator, _ = _translate([
        AssistantMessage([TextBlock("API Error: 400 prompt is too long")], "<synthetic>",
                         error="invalid_request")])
    assert _outcome(translator, None).code == "model_error"


# -- guard and diff ------------------------------------------------------------------------

def test_guard_confines_paths_to_the_clone(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "link").symlink_to("/etc")
    assert guard.outside(str(root), {"file_path": str(root / "a.txt")}) is None
    assert guard.outside(str(root), {"path": "src"}) is None
    assert guard.outside(str(root), {"pattern": "**/*.py"}) is None
    assert guard.outside(str(root), {"file_path": "/etc/passwd"}) == "/etc/passwd"
    assert guard.outside(str(root), {"path": "../x"}) == "../x"
    assert guard.outside(str(root), {"file_path": "link/passwd"}) == "link/passwd"
    hook = guard.make_hook(str(root))
    denied = asyncio.run(hook({"tool_input": {"file_path": "/etc/passwd"}}, "t", None))
    assert denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert asyncio.run(hook({"tool_input": {"file_path": "a.txt"}}, "t", None)) == {}


def test_guard_keeps_file_tools_out_of_the_git_directory(tmp_path):
    root = tmp_path / "repo"
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / "sub" / ".git").mkdir(parents=True)
    (root / "cfg").symlink_to(".git/config")
    (root / "meta").symlink_to(".git")
    for path in (".git/config", f"{root}/.git/hooks/pre-commit", "cfg", "meta/hooks/x",
                 "sub/.git/config", ".GIT/config", ".git", "sub/../.git/HEAD"):
        found = guard.refused(str(root), {"file_path": path})
        assert found and "git directory" in found[1], path
    for path in (".gitignore", ".github/workflows/ci.yml", "src/.gitkeep", "git/config"):
        assert guard.refused(str(root), {"file_path": path}) is None, path
    # A .git file (worktrees, submodules) points elsewhere: that is the git directory too.
    linked = tmp_path / "linked"
    (linked / "store" / "gitdir").mkdir(parents=True)
    (linked / ".git").write_text("gitdir: store/gitdir\n")
    found = guard.refused(str(linked), {"file_path": "store/gitdir/config"})
    assert found and "git directory" in found[1]
    assert guard.refused(str(linked), {"file_path": "store/notes.txt"}) is None


def test_shell_hook_refuses_background_commands():
    hook = guard.make_shell_hook()
    assert asyncio.run(hook({"tool_input": {"command": "pytest"}}, "t", None)) == {}
    denied = asyncio.run(hook({"tool_input": {"command": "serve", "run_in_background": True}},
                              "t", None))
    assert denied["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_git_runs_without_credentials_or_outside_config():
    source = {"PATH": "/usr/bin", "HOME": "/home/agent", "ANTHROPIC_API_KEY": API_KEY,
              "ANTHROPIC_BASE_URL": "http://gw", "CLAUDE_CODE_OAUTH_TOKEN": "tok-123456",
              "GIT_DIR": "/elsewhere", "GIT_CONFIG_COUNT": "1",
              "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": "Authorization: x",
              "HTTPS_PROXY": "http://proxy:3128"}
    local = git.env(source=source)
    assert local["GIT_CONFIG_NOSYSTEM"] == "1" and local["GIT_CONFIG_GLOBAL"] == "/dev/null"
    assert {"PATH", "HOME"} <= set(local)
    assert not any(name.startswith(("ANTHROPIC", "CLAUDE", "GIT_CONFIG_K", "GIT_CONFIG_V",
                                     "GIT_DIR", "HTTPS")) for name in local)
    # Only the clone gets the service's git settings (the gateway's header) and the proxy.
    network = git.env(network=True, source=source)
    assert network["GIT_CONFIG_VALUE_0"] == "Authorization: x"
    assert network["HTTPS_PROXY"] == "http://proxy:3128"
    assert "ANTHROPIC_API_KEY" not in network and "GIT_DIR" not in network
    args = git.command("diff")
    assert args[0] == git.GIT and "core.fsmonitor=false" in args
    assert "core.hooksPath=/dev/null" in args and args[-1] == "diff"


def test_diff_covers_new_and_changed_files_and_is_bounded(tmp_path):
    repo = make_repo(tmp_path / "r", {"a.txt": "one\n", "gone.txt": "bye\n"})
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    (repo / "a.txt").write_text("two\n")
    (repo / "gone.txt").unlink()
    (repo / "new dir").mkdir()
    (repo / "new dir" / "b.txt").write_text("".join(f"line {i}\n" for i in range(2000)))
    whole = asyncio.run(diff.collect(str(repo), head))
    assert sorted(whole.files) == ["a.txt", "gone.txt", "new dir/b.txt"]
    assert (whole.additions, whole.deletions) == (2001, 2)
    assert not whole.truncated and whole.bytes == len(whole.patch.encode())
    small = asyncio.run(diff.collect(str(repo), head, limit=1000))
    assert small.truncated and len(small.patch.encode()) <= 1000
    assert small.patch.endswith("\n") and small.bytes == whole.bytes
