"""The sandbox's command line, built without running anything (compared as lists)."""
from __future__ import annotations

import os
import sys

import pytest

from aideator.runtimes.agent_env import SECRET_VARIABLES, agent_environment
from aideator.config import load_settings
from aideator.runtimes import sandbox
from aideator.runtimes.sandbox import Mounts


def test_a_variation_gets_the_system_its_runtime_its_directories_and_nothing_else(tmp_path):
    d = str(tmp_path / "runs" / "run-x" / "0")
    mounts = Mounts(directory=d, workspace=f"{d}/workspace", home=f"{d}/home",
                    bridge=f"{d}/bridge", passwd=f"{d}/etc/passwd", group=f"{d}/etc/group")
    argv = sandbox.bwrap_argv(["/venv/bin/python", "-m", "agent"], mounts,
                              readable_paths=["/venv", "/opt/python", "/src/agent"])
    assert argv == [
        "bwrap", *sandbox._system_args(),
        "--ro-bind", f"{d}/etc/passwd", "/etc/passwd", "--ro-bind", f"{d}/etc/group",
        "/etc/group", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--ro-bind", "/venv", "/venv", "--ro-bind", "/opt/python", "/opt/python",
        "--ro-bind", "/src/agent", "/src/agent",
        "--bind", f"{d}/workspace", f"{d}/workspace", "--bind", f"{d}/home", f"{d}/home",
        "--ro-bind", f"{d}/bridge", "/run/aideator",
        "--ro-bind", sandbox.INIT_SCRIPT, "/run/aideator-init.sh",
        "--remount-ro", "/",
        "--unshare-user", "--uid", "1000", "--gid", "1000", "--unshare-pid", "--unshare-net",
        "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", "aideator-sandbox", "--cap-drop", "ALL", "--die-with-parent",
        "--new-session", "--chdir", d, "--info-fd", "3",
        "--", "/bin/sh", "/run/aideator-init.sh", "7480", "/venv/bin/python", "-m", "agent"]
    # The system: /usr read-only, /etc only in part (never shadow, never the whole of it).
    system = sandbox._system_args()
    assert ["--ro-bind", "/usr", "/usr"] == system[:3]
    binds = {system[i + 1] for i, a in enumerate(system) if a == "--ro-bind"}
    assert "/etc" not in binds and "/etc/shadow" not in binds and "/" not in binds


def test_a_venv_interpreter_brings_its_venv_and_its_base_installation(tmp_path):
    base = tmp_path / "pyenv" / "versions" / "3.11.7"
    (base / "bin").mkdir(parents=True)
    (base / "lib" / "python3.11").mkdir(parents=True)
    (base / "bin" / "python3.11").write_text("")
    venv = tmp_path / "repo" / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(base / "bin" / "python3.11")
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\nversion = 3.11.7\n")
    paths = sandbox.runtime_paths([str(venv / "bin" / "python"), "-m", "agent",
                                   str(tmp_path / "missing.py"), "--flag"])
    assert paths == [str(venv / "bin" / "python"), str(base / "bin" / "python3.11"),
                     str(venv), str(base), str(base)]
    assert sandbox.readable(paths, hidden=[str(tmp_path / "repo" / "data")]) == [
        str(venv), str(base)]


def test_this_interpreter_and_the_agent_package_are_readable_but_never_the_data_directory():
    paths = sandbox.runtime_paths([sys.executable, "-m", "agent", "/usr/bin/env"])
    assert sys.base_prefix in paths or os.path.realpath(sys.base_prefix) in paths
    repo = os.path.dirname(sandbox.agent_package())
    assert sandbox.agent_package() == os.path.join(repo, "agent")
    # A command naming the repository root (which holds ./data) does not bring it in.
    assert sandbox.readable([repo, sandbox.agent_package(), "/usr/bin/env", "/"],
                            hidden=[os.path.join(repo, "data")]) == [sandbox.agent_package()]
    # Nested paths collapse into the outer one.
    assert sandbox.readable(["/opt/a/b", "/opt/a", "/opt/ab"], hidden=[]) == [
        "/opt/a", "/opt/ab"]


def test_the_probe_is_a_sandbox_like_a_variations_running_true():
    argv = sandbox.probe_argv("/usr/bin/bwrap")
    assert argv[0] == "/usr/bin/bwrap" and argv[-4:] == ["--", "/bin/sh", "-c", ":"]
    assert "--unshare-net" in argv and "--unshare-user" in argv


def test_the_sandbox_files_name_its_one_user():
    files = sandbox.etc_files("/data/runs/r/0/home")
    assert "agent:x:1000:1000:AIdeator agent:/data/runs/r/0/home:/bin/sh" in files["passwd"]
    assert "agent:x:1000:" in files["group"]


def test_the_gateway_variables_point_at_the_bridge_and_carry_only_the_variations_token():
    env = agent_environment(run_id="r", variation_id=0, repo_url="u", prompt="p", config={},
                            workspace="/w", gateway_url="http://127.0.0.1:7480",
                            gateway_token="tok")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:7480/gateway/anthropic"
    assert env["ANTHROPIC_API_KEY"] == "tok"
    assert env["GIT_CONFIG_KEY_0"] == "url.http://127.0.0.1:7480/gateway/git/.insteadOf"
    assert env["GIT_CONFIG_VALUE_0"] == "https://github.com/"
    assert env["GIT_CONFIG_VALUE_1"] == "Authorization: Bearer tok"
    assert "ANTHROPIC_API_KEY" not in agent_environment(
        run_id="r", variation_id=0, repo_url="u", prompt="p", config={}, workspace="/w")

    assert env["ENGINE"] == "claude-code"


def test_each_engine_gets_only_its_own_gateway_variables_and_the_variations_prompt():
    def env_of(config):
        return agent_environment(run_id="r", variation_id=1, repo_url="u", prompt="mine",
                                 config=config, workspace="/w",
                                 gateway_url="http://127.0.0.1:7480/", gateway_token="aidg_t")
    model_variables = {"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                       "OPENAI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY"}
    codex = env_of({"engine": "codex", "model": "gpt-5-codex", "prompt": "mine"})
    assert codex["ENGINE"] == "codex" and codex["MODEL"] == "gpt-5-codex"
    assert {k: codex[k] for k in model_variables & set(codex)} == {
        "OPENAI_BASE_URL": "http://127.0.0.1:7480/gateway/openai/v1",
        "OPENAI_API_KEY": "aidg_t"}
    gemini = env_of({"engine": "gemini"})
    assert {k: gemini[k] for k in model_variables & set(gemini)} == {
        "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:7480/gateway/gemini",
        "GEMINI_API_KEY": "aidg_t"}
    claude = env_of({"engine": "claude-code"})
    assert model_variables & set(claude) == {"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"}
    # The prompt is the one given (the variation's own, chosen by the orchestrator).
    assert codex["PROMPT"] == "mine" and "PROMPT" in SECRET_VARIABLES
    assert {"OPENAI_API_KEY", "GEMINI_API_KEY"} <= SECRET_VARIABLES


def test_the_sandbox_setting_is_bubblewrap_or_an_explicit_off():
    assert load_settings({}).sandbox == "bubblewrap"
    assert load_settings({"AIDEATOR_SANDBOX": "off"}).sandbox == "off"
    with pytest.raises(ValueError, match="AIDEATOR_SANDBOX"):
        load_settings({"AIDEATOR_SANDBOX": "none"})
