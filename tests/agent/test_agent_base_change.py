"""``python -m agent`` starting from another run's variation (the change in the file
``BASE_PATCH_FILE`` names): after its shallow clone of the default branch, which has moved
on, it fetches and checks out ``BASE_COMMIT``, applies the change (a binary file
included), and its diff shows only the new work. Also through the local runtime's
once-per-run setup (``MODE=setup``, then ``PREPARED=1``); a change far larger than one
environment variable may hold (300 KiB) starts as well; a change that does not apply
fails the clone step with the reason, and a file that cannot be read is a config error."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.agent.fake_anthropic import reply, text, tool_use

BINARY = bytes(range(256))


def parent_change(repo: Path, added: dict[str, str] | None = None) -> tuple[str, str]:
    """The base commit, and a ``--binary`` diff on it (with the ``added`` files too); then
    the default branch moves on."""
    git = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@e"]
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (repo / "greet.txt").write_text("hello, parent\n")
    (repo / "logo.bin").write_bytes(BINARY)
    for name, content in (added or {}).items():
        (repo / name).write_text(content)
    subprocess.run([*git, "add", "-N", "logo.bin", *(added or {})], check=True)
    patch = subprocess.run([*git, "diff", "--binary", "HEAD"], capture_output=True,
                           text=True, check=True).stdout
    subprocess.run([*git, "reset", "-q", "--hard"], check=True)
    for name in ("logo.bin", *(added or {})):
        (repo / name).unlink(missing_ok=True)
    (repo / "later.txt").write_text("later\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "later"], check=True)
    return base, patch


def lineage(world, base: str, patch: str) -> dict[str, str]:
    """The variables, and the change in a read-only file outside the clone (as the
    runtimes give it)."""
    path = world.tmp / "change" / "base.patch"
    path.parent.mkdir(exist_ok=True)
    path.write_text(patch)
    path.chmod(0o400)
    return {"BASE_COMMIT": base, "BASE_PATCH_FILE": str(path),
            "PARENT_RUN_ID": "run-parent0000", "PARENT_VARIATION_ID": "2"}


def test_the_agent_starts_from_the_parents_change_and_diffs_only_the_new_work(
        world, fake_model):
    world.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    base, patch = parent_change(world.mirror / "acme" / "widgets")
    fake_model.scripts["default"] = [
        reply(tool_use("Bash", {"command": "cat greet.txt; ls; echo new > added.txt",
                                "description": "look"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url, **lineage(world, base, patch)))
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
                                   **lineage(world, base, patch)))
    assert prepared.returncode == 0, prepared.stderr + prepared.stdout
    fake_model.scripts["default"] = [
        reply(tool_use("Bash", {"command": "echo more >> greet.txt", "description": "edit"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url, PREPARED="1", **lineage(world, base, patch)))
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
    run = world.run(world.env("http://127.0.0.1:9", **lineage(world, base, patch)))
    assert run.returncode == 3
    assert run.last["code"] == "clone_failed"
    assert "parent's change" in run.last["message"] and "git apply" in run.last["message"]


def test_a_change_larger_than_an_environment_variable_may_hold_starts_from_its_file(
        world, fake_model):
    """Linux caps one environment variable at 128 KiB: this change could never have been
    given as one."""
    world.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    big = "".join(f"line {n:06d} ".ljust(99, "x") + "\n" for n in range(3100))
    base, patch = parent_change(world.mirror / "acme" / "widgets", {"big.txt": big})
    assert len(patch.encode()) > 300 * 1024
    fake_model.scripts["default"] = [
        reply(tool_use("Bash", {"command": "wc -l big.txt; echo new > added.txt",
                                "description": "count"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url, **lineage(world, base, patch)))
    assert run.returncode == 0, run.stderr + run.stdout
    assert "3100 big.txt" in run.of("tool_result")[0]["content"]
    (diff,) = run.of("diff")
    assert diff["files"] == ["added.txt"], diff


def test_a_change_file_that_cannot_be_read_is_a_config_error(world):
    world.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    env = world.env("http://127.0.0.1:9", BASE_COMMIT="0" * 40,
                    BASE_PATCH_FILE=str(world.tmp / "missing.patch"))
    run = world.run(env)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.last["code"] == "config_invalid" and run.last["field"] == "BASE_PATCH_FILE"
    assert "BASE_PATCH_FILE cannot be read" in run.last["message"]
