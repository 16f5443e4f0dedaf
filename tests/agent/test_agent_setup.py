"""The setup phase of ``python -m agent``: it runs after the clone and before the model, its
output is told as setup events, a failure ends the run with ``setup_failed``, only the
setup command sees the proxy, and the diff shows only the model's change."""
from __future__ import annotations

from agent import protocol
from tests.agent.fake_anthropic import reply, text, tool_use

FILES = {"greet.txt": "hello world\n", "lock.txt": "v1\n"}
# Makes a directory of many files (a venv's stand-in), a new file, changes a tracked one,
# and writes down what proxy it was given.
SETUP = ("mkdir -p .venv/lib && for i in 1 2 3; do echo x > .venv/lib/f$i; done "
         "&& echo generated > made-by-setup.txt && echo v2 > lock.txt "
         "&& echo \"proxy=$HTTPS_PROXY|$http_proxy|no=$NO_PROXY\" && echo done")


def bash(command: str) -> object:
    return tool_use("Bash", {"command": command, "description": "run"})


def test_setup_runs_before_the_model_and_the_diff_is_the_models_change_only(world,
                                                                               fake_model):
    world.repo("acme", "widgets", FILES)
    fake_model.scripts["default"] = [
        reply(bash("ls .venv/lib | wc -l; "
                   "echo \"model-proxy=${HTTPS_PROXY:-none}${SETUP_PROXY:-}.\"")),
        reply(tool_use("Read", {"file_path": str(world.clone / "greet.txt")})),
        reply(tool_use("Edit", {"file_path": str(world.clone / "greet.txt"),
                                "old_string": "hello world", "new_string": "hello, friend"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url, SETUP=SETUP,
                              SETUP_PROXY="http://127.0.0.1:7481"))
    assert run.returncode == 0, run.stderr
    types = run.types()
    assert types.index(protocol.SETUP_STARTED) < types.index(protocol.SETUP_FINISHED) \
        < types.index("tool_use")
    (started,) = run.of(protocol.SETUP_STARTED)
    assert started["command"] == SETUP and started["source"] == "request"
    assert started["timeout_seconds"] == 600
    lines = [line for e in run.of(protocol.SETUP_OUTPUT) for line in e["lines"]]
    # The setup command, and only it, has the proxy (and nothing bypasses it).
    assert "proxy=http://127.0.0.1:7481|http://127.0.0.1:7481|no=" in lines
    (finished,) = run.of(protocol.SETUP_FINISHED)
    assert finished["passed"] is True and finished["exit_code"] == 0
    assert finished["timed_out"] is False and finished["duration_ms"] >= 0
    results = run.of("tool_result")
    assert "model-proxy=none." in results[0]["content"] and "3" in results[0]["content"]

    (diff,) = run.of("diff")
    assert diff["files"] == ["greet.txt"], diff
    assert ".venv" not in diff["patch"] and "made-by-setup" not in diff["patch"]
    assert "v2" not in diff["patch"] and "+hello, friend" in diff["patch"]
    assert diff["excluded"] == [".venv", "lock.txt", "made-by-setup.txt"]
    # The setup's work is still there for the model's commands and the checks.
    assert (world.clone / ".venv" / "lib" / "f3").exists()


def test_a_failing_setup_ends_the_run_before_the_model_with_its_reason(world, fake_model):
    world.repo("acme", "widgets", FILES)
    run = world.run(world.env(fake_model.base_url,
                              SETUP="echo resolving; echo 'no matching distribution' >&2; "
                                    "exit 7"))
    assert run.returncode == protocol.EXIT_SETUP
    (finished,) = run.of(protocol.SETUP_FINISHED)
    assert finished["exit_code"] == 7 and finished["passed"] is False
    assert finished["reason"] == "setup exited with code 7"
    assert run.last["type"] == "error" and run.last["code"] == "setup_failed"
    assert "setup exited with code 7" in run.last["message"]
    assert "no matching distribution" in run.last["message"]
    assert fake_model.message_requests() == []   # the model never started


def test_a_setup_past_its_time_limit_fails(world, fake_model):
    world.repo("acme", "widgets", FILES)
    run = world.run(world.env(fake_model.base_url, SETUP="echo waiting; sleep 30",
                              SETUP_TIMEOUT_SECONDS="1"), timeout=30)
    assert run.returncode == protocol.EXIT_SETUP
    (finished,) = run.of(protocol.SETUP_FINISHED)
    assert finished["timed_out"] is True and finished["exit_code"] is None
    assert run.last["code"] == "setup_failed"
    assert run.last["message"].startswith("setup timed out after 1 s")
    assert "waiting" in run.last["message"]


def test_the_repository_script_runs_only_when_the_run_opts_in(world, fake_model):
    files = {**FILES, ".aideator/setup.sh": "echo from-the-repo > marker.txt\n"}
    world.repo("acme", "widgets", files)
    fake_model.scripts["default"] = [reply(text("Nothing to do."))]
    off = world.run(world.env(fake_model.base_url))
    assert off.returncode == 0 and not off.of(protocol.SETUP_STARTED)

    other = world.__class__(world.tmp / "second", mirror=world.mirror)
    on = other.run(other.env(fake_model.base_url, SETUP_FROM_REPO="1"))
    assert on.returncode == 0, on.stderr
    (started,) = on.of(protocol.SETUP_STARTED)
    assert started["source"] == "repository" and started["command"] == "sh .aideator/setup.sh"
    assert (other.clone / "marker.txt").read_text() == "from-the-repo\n"

    # Opted in, but the repository has none: said so (the setup is over), and on it goes.
    world.repo("acme", "plain", FILES)
    third = world.__class__(world.tmp / "third", mirror=world.mirror)
    none = third.run(third.env(fake_model.base_url, SETUP_FROM_REPO="1",
                               REPO_URL="https://github.com/acme/plain"))
    assert none.returncode == 0, none.stderr
    (finished,) = none.of(protocol.SETUP_FINISHED)
    assert finished["skipped"] is True and finished["passed"] is True
    assert not none.of(protocol.SETUP_STARTED)


def test_mode_setup_stops_after_the_setup_and_prepared_skips_clone_and_setup(world,
                                                                              fake_model):
    world.repo("acme", "widgets", FILES)
    prepared = world.run(world.env(None, SETUP="echo ready > state.txt", MODE="setup",
                                   PROMPT=None, ANTHROPIC_API_KEY=None))
    assert prepared.returncode == 0, prepared.stderr
    assert prepared.last["phase"] == "finished" and len(prepared.last["commit"]) == 40
    assert fake_model.message_requests() == []

    fake_model.scripts["default"] = [reply(text("Fine."))]
    run = world.run(world.env(fake_model.base_url, PREPARED="1", SETUP="exit 1"))
    assert run.returncode == 0, run.stderr
    cloned = [e for e in run.of("status") if e["phase"] == "cloned"]
    assert cloned[0]["commit"] == prepared.last["commit"] and cloned[0]["prepared"] is True
    assert not [e for e in run.of("status") if e["phase"] == "cloning"]
    assert not run.of(protocol.SETUP_STARTED)
    assert run.of("diff")[0]["files"] == []     # state.txt was the setup's, not the model's


def test_setup_settings_are_checked(world):
    for name, value in (("SETUP", "echo a\necho b"), ("SETUP_TIMEOUT_SECONDS", "1801"),
                        ("SETUP_PROXY", "http://x/evil path"), ("MODE", "other")):
        run = world.run(world.env(None, **{name: value}))
        assert run.returncode == protocol.EXIT_CONFIG and run.last["field"] == name
