"""``python -m agent`` starting from another run's variation (``BASE_PATCH``): after its
shallow clone of the default branch, which has moved on, it fetches and checks out
``BASE_COMMIT``, applies the change (a binary file included), and its diff shows only
the new work. Also through the local runtime's once-per-run setup (``MODE=setup``, then
``PREPARED=1``), and a change that does not apply fails the clone step with the reason."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.agent.fake_anthropic import reply, text, tool_use

BINARY = bytes(range(256))


def parent_change(repo: Path) -> tuple[str, str]:
    """The base commit, and a ``--binary`` diff on it; then the default branch moves on."""
    git = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@e"]
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (repo / "greet.txt").write_text("hello, parent\n")
    (repo / "logo.bin").write_bytes(BINARY)
    subprocess.run([*git, "add", "-N", "logo.bin"], check=True)
    patch = subprocess.run([*git, "diff", "--binary", "HEAD"], capture_output=True,
                           text=True, check=True).stdout
    subprocess.run([*git, "reset", "-q", "--hard"], check=True)
    (repo / "logo.bin").unlink(missing_ok=True)
    (repo / "later.txt").write_text("later\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "later"], check=True)
    return base, patch


def lineage(base: str, patch: str) -> dict[str, str]:
    return {"BASE_COMMIT": base, "BASE_PATCH": patch, "PARENT_RUN_ID": "run-parent0000",
            "PARENT_VARIATION_ID": "2"}


def test_the_agent_starts_from_the_parents_change_and_diffs_only_the_new_work(
        world, fake_model):
    world.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    base, patch = parent_change(world.mirror / "acme" / "widgets")
    fake_model.scripts["default"] = [
        reply(tool_use("Bash", {"command": "cat greet.txt; ls; echo new > added.txt",
                                "description": "look"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url, **lineage(base, patch)))
    assert run.returncode == 0, run.stderr + run.stdout
    (cloned,) = [e for e in run.of("status") if e["phase"] == "cloned"]
    assert cloned["commit"] == base
    assert cloned["parent"] == {"run_id": "run-parent0000", "variation_id": 2}
    seen = run.of("tool_result")[0]["content"]
    assert "hello, parent" in seen and "later.txt" not in seen
    assert (world.clone / "logo.bin").read_bytes() == BINARY
    (diff,) = run.of("diff")
    assert diff["files"] == ["added.txt"], diff


def test_a_prepared_workspace_carries_the_change_and_the_diff_is_the_new_work_only(
        world, fake_model):
    world.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    base, patch = parent_change(world.mirror / "acme" / "widgets")
    prepared = world.run(world.env(None, MODE="setup", PROMPT=None, ANTHROPIC_API_KEY=None,
                                   SETUP="echo set > made-by-setup.txt",
                                   **lineage(base, patch)))
    assert prepared.returncode == 0, prepared.stderr + prepared.stdout
    fake_model.scripts["default"] = [
        reply(tool_use("Bash", {"command": "echo more >> greet.txt", "description": "edit"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url, PREPARED="1", **lineage(base, patch)))
    assert run.returncode == 0, run.stderr + run.stdout
    (cloned,) = [e for e in run.of("status") if e["phase"] == "cloned"]
    assert cloned["commit"] == base and cloned["prepared"] is True
    (diff,) = run.of("diff")
    assert diff["files"] == ["greet.txt"], diff
    assert " hello, parent\n+more\n" in diff["patch"]


def test_a_change_that_does_not_apply_fails_the_clone_step_with_the_reason(world):
    world.repo("acme", "widgets", {"greet.txt": "something else\n"})
    base = subprocess.run(["git", "-C", str(world.mirror / "acme" / "widgets"), "rev-parse",
                           "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    patch = ("diff --git a/greet.txt b/greet.txt\n--- a/greet.txt\n+++ b/greet.txt\n"
             "@@ -1 +1 @@\n-hello world\n+hello, parent\n")
    run = world.run(world.env("http://127.0.0.1:9", **lineage(base, patch)))
    assert run.returncode == 3
    assert run.last["code"] == "clone_failed"
    assert "parent's change" in run.last["message"] and "git apply" in run.last["message"]
