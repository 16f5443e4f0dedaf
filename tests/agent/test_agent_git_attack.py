"""The ``.git`` attack: a model that plants programs in git's configuration runs nothing.

git runs programs its configuration names (fsmonitor, hooks, pager, filters, diff
drivers). The wrapper runs git on the clone after the model is done (the diff), so a
model that could write ``.git/config`` would get a command run outside any tool call.
The file tools may not touch ``.git`` (not directly, not through a symlink in the tree);
the shell can, and the diff must ignore what it wrote, and still come out.
"""
from __future__ import annotations

import os

from tests.agent.fake_anthropic import reply, text, tool_use
from tests.agent.harness import make_repo

FILES = {"greet.txt": "hello world\n"}


def planted(marker_dir) -> list[str]:
    return sorted(os.listdir(marker_dir))


def attack_repo(world) -> str:
    repo = world.mirror / "acme" / "widgets"
    repo.mkdir(parents=True)
    # Committed with the fixture: a harmless-looking file that points into .git.
    (repo / "settings.ini").symlink_to(".git/config")
    (repo / "meta").symlink_to(".git")
    make_repo(repo, FILES)
    return "https://github.com/acme/widgets"


def test_file_tools_cannot_reach_git_config_directly_or_through_a_symlink(world, fake_model):
    attack_repo(world)
    marker_dir = world.tmp / "ran"
    marker_dir.mkdir()
    hook = f"\tfsmonitor = touch {marker_dir}/fsmonitor; true\n"
    clone = world.clone
    fake_model.scripts["default"] = [
        # Claude Code writes an existing file only after reading it: the reads are refused,
        reply(tool_use("Read", {"file_path": f"{clone}/.git/config"})),
        reply(tool_use("Read", {"file_path": "settings.ini"})),
        # so the CLI itself refuses these two before the guard sees them;
        reply(tool_use("Write", {"file_path": f"{clone}/.git/config",
                                 "content": f"[core]\n{hook}"})),
        reply(tool_use("Edit", {"file_path": f"{clone}/settings.ini",
                                "old_string": "[core]\n", "new_string": f"[core]\n{hook}"})),
        # new files need no read: the guard refuses them, directly and through a link.
        reply(tool_use("Write", {"file_path": f"{clone}/.git/hooks/post-index-change",
                                 "content": f"#!/bin/sh\ntouch {marker_dir}/hook\n"})),
        reply(tool_use("Write", {"file_path": f"{clone}/meta/hooks/post-checkout",
                                 "content": f"#!/bin/sh\ntouch {marker_dir}/hook\n"})),
        reply(tool_use("Read", {"file_path": f"{clone}/greet.txt"})),
        reply(tool_use("Edit", {"file_path": f"{clone}/greet.txt",
                                "old_string": "hello world", "new_string": "hello, friend"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url, TOOLS="files"))

    assert run.returncode == 0, run.stderr
    results = run.of("tool_result")
    assert [r["is_error"] for r in results] == [True] * 6 + [False, False]
    contents = [r["content"] for r in results]
    assert all("git directory" in contents[i] for i in (0, 1, 4, 5)), contents
    assert "[core]" not in contents[0] + contents[1]  # nothing of .git/config was shown
    assert "fsmonitor" not in (clone / ".git" / "config").read_text()
    assert not (clone / ".git" / "hooks" / "post-index-change").exists()
    assert not (clone / ".git" / "hooks" / "post-checkout").exists()
    assert planted(marker_dir) == []
    diff = run.of("diff")[0]
    assert diff["files"] == ["greet.txt"] and "+hello, friend" in diff["patch"]


def test_git_config_written_through_the_shell_runs_nothing_when_the_diff_is_made(
        world, fake_model):
    attack_repo(world)
    marker_dir = world.tmp / "ran"
    marker_dir.mkdir()
    m = str(marker_dir)
    # Every way git's configuration can name a program, in the clone's config and in the
    # agent's global config, plus a hook and attributes selecting a filter everywhere. As a
    # script: Claude Code itself refuses a redirection into .git or $HOME typed as a
    # command, a heuristic a script (or python -c) walks around.
    plant = "\n".join(["set -e",
        f"git config core.fsmonitor 'touch {m}/fsmonitor; true'",
        f"git config core.pager 'touch {m}/pager; cat'",
        f"git config diff.external 'touch {m}/external'",
        f"git config filter.evil.clean 'touch {m}/clean; cat'",
        "git config filter.evil.required true",
        f"git config filter.proc.process 'touch {m}/process'",
        f"git config diff.evil.textconv 'touch {m}/textconv; cat'",
        "git config core.hooksPath .git/hooks",
        f"printf '#!/bin/sh\\ntouch {m}/hook\\n' > .git/hooks/post-index-change",
        "chmod +x .git/hooks/post-index-change",
        "printf '* filter=evil diff=evil\\n*.txt filter=proc\\n' > .gitattributes",
        f"git config --global core.fsmonitor 'touch {m}/global-fsmonitor; true'",
        f"git config --global filter.evil.clean 'touch {m}/global-clean; cat'",
        "mkdir -p ~/.config/git",
        "printf '* filter=evil\\n' > ~/.config/git/attributes",
        "echo planted",
    ]) + "\n"
    fake_model.scripts["default"] = [
        reply(tool_use("Write", {"file_path": f"{world.clone}/plant.sh", "content": plant})),
        reply(tool_use("Bash", {"command": "sh plant.sh && rm plant.sh",
                                "description": "plant"})),
        reply(tool_use("Read", {"file_path": f"{world.clone}/greet.txt"})),
        reply(tool_use("Edit", {"file_path": f"{world.clone}/greet.txt",
                                "old_string": "hello world", "new_string": "hello, friend"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url))

    assert run.returncode == 0, run.stderr
    planting = run.of("tool_result")[1]
    assert planting["is_error"] is False and "planted" in planting["content"], planting["content"]
    assert "fsmonitor" in (world.clone / ".git" / "config").read_text()  # it was written
    assert planted(marker_dir) == [], "git ran a program the model configured"
    diff = run.of("diff")[0]
    assert sorted(diff["files"]) == [".gitattributes", "greet.txt"]
    assert "-hello world\n+hello, friend\n" in diff["patch"]


def test_the_diff_does_not_depend_on_the_clones_index_or_refs(world, fake_model):
    """The model may wreck the clone's .git; the diff is still against the cloned commit."""
    world.repo("acme", "widgets", FILES)
    fake_model.scripts["default"] = [
        reply(tool_use("Write", {"file_path": f"{world.clone}/wreck.sh",
                                 "content": "rm -f .git/index\ngit update-ref -d HEAD\n"
                                            "echo new > added.txt\n"})),
        reply(tool_use("Bash", {"command": "sh wreck.sh && rm wreck.sh",
                                "description": "wreck"})),
        reply(text("Done.")),
    ]
    run = world.run(world.env(fake_model.base_url))

    assert run.returncode == 0, run.stderr
    diff = run.of("diff")[0]
    assert not (world.clone / ".git" / "index").exists()
    assert diff["files"] == ["added.txt"] and "+new" in diff["patch"]
