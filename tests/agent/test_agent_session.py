"""The agent end to end: real bundled Claude Code CLI, fake model API, fixture repo."""
from __future__ import annotations

import json

from tests.agent.fake_anthropic import fault, per_session, reply, text, thinking, tool_use
from tests.agent.harness import API_KEY, Workspace

FILES = {"greet.txt": "hello world\n", "src/app.py": "print('hi')\n"}


def edit_session(clone: str) -> list:
    return [
        reply(thinking("The greeting lives in greet.txt; read it first."),
              text("Let me look at the greeting."),
              tool_use("Read", {"file_path": f"{clone}/greet.txt"})),
        reply(tool_use("Edit", {"file_path": f"{clone}/greet.txt",
                                "old_string": "hello world", "new_string": "hello, friend"})),
        reply(tool_use("Write", {"file_path": f"{clone}/NOTES.md",
                                 "content": "# Notes\nGreeting is friendlier.\n"})),
        reply(text("I made the greeting friendlier and added NOTES.md.")),
    ]


def test_read_edit_session_streams_events_and_reports_the_diff(world, fake_model):
    world.repo("acme", "widgets", FILES)
    fake_model.scripts["default"] = edit_session(str(world.clone))
    run = world.run(world.env(fake_model.base_url, MODEL="claude-opus-4-1"))

    assert run.returncode == 0, run.stderr
    types = run.types()
    # Phases first, then the model's work in the order it happened, then diff and finish.
    phases = [e["phase"] for e in run.of("status")]
    assert phases[:2] == ["starting", "cloning"]
    assert phases.index("cloned") < phases.index("running") < phases.index("finished")
    assert types[-3:] == ["result", "diff", "status"] and run.last["phase"] == "finished"
    work = [t for t in types if t in ("thinking", "text", "tool_use", "tool_result")]
    assert work == ["thinking", "text", "tool_use", "tool_result", "tool_use", "tool_result",
                    "tool_use", "tool_result", "text"]

    first = run.events[0]
    assert first["type"] == "status" and first["phase"] == "starting"
    assert first["settings"]["applied"]["model"] == "claude-opus-4-1"
    assert first["settings"]["not_applied"]["temperature"]["value"] == 0.7
    assert first["engine"]["name"] == "claude-code"

    think = run.of("thinking")[0]
    assert think["thinking"] == "The greeting lives in greet.txt; read it first."
    # Deltas arrive before the whole block and add up to it.
    deltas = [e for e in run.of("thinking_delta") if e["message_id"] == think["message_id"]]
    assert "".join(d["thinking"] for d in deltas) == think["thinking"]
    assert types.index("thinking_delta") < types.index("thinking")
    final_text = run.of("text")[-1]
    pieces = [e["text"] for e in run.of("text_delta")
              if (e["message_id"], e["index"]) == (final_text["message_id"], final_text["index"])]
    assert "".join(pieces) == final_text["text"]

    read, edit, write = run.of("tool_use")
    assert (read["name"], edit["name"], write["name"]) == ("Read", "Edit", "Write")
    assert edit["input"]["new_string"] == "hello, friend"
    results = {r["tool_use_id"]: r for r in run.of("tool_result")}
    assert "hello world" in results[read["id"]]["content"]
    assert results[read["id"]]["name"] == "Read"
    assert not any(r["is_error"] for r in results.values())

    result = run.of("result")[0]
    assert result["is_error"] is False and result["num_turns"] >= 4
    assert result["text"] == "I made the greeting friendlier and added NOTES.md."

    # The change is real, in the clone, and in the diff (new file included).
    assert (world.clone / "greet.txt").read_text() == "hello, friend\n"
    diff = run.of("diff")[0]
    assert diff["truncated"] is False
    assert sorted(diff["files"]) == ["NOTES.md", "greet.txt"]
    assert "-hello world\n+hello, friend\n" in diff["patch"]
    assert "+Greeting is friendlier." in diff["patch"]
    assert run.last["files_changed"] == 2

    # What the CLI asked the model: our model, the file tools and the shell (the default;
    # nothing else: no web, no subagents), our key.
    asked = fake_model.message_requests()
    assert len(asked) == 4
    assert {r.body["model"] for r in asked} == {"claude-opus-4-1"}
    tools = {t["name"] for t in asked[0].body["tools"]}
    assert tools == {"Read", "Glob", "Grep", "Edit", "Write", "Bash"}
    assert asked[0].headers["x-api-key"] == API_KEY
    # Nothing but the Messages API was called (no telemetry, no update checks).
    assert {r.path.split("?")[0] for r in fake_model.requests} == {"/v1/messages"}


def test_paths_outside_the_clone_are_refused(world, fake_model):
    world.repo("acme", "widgets", FILES)
    (world.tmp / "private.txt").write_text("private-content-42\n")
    fake_model.scripts["default"] = [
        # Relative, escaping with .. : resolved against the clone, still outside it.
        reply(tool_use("Read", {"file_path": "../../private.txt"})),
        reply(tool_use("Write", {"file_path": str(world.tmp / "escaped.txt"),
                                 "content": "out"})),
        reply(text("Could not do it.")),
    ]
    # An "@path" mention in the prompt must not make the CLI inline the file either.
    prompt = f"Summarise @{world.tmp}/private.txt please"
    run = world.run(world.env(fake_model.base_url, PROMPT=prompt))

    assert run.returncode == 0, run.stderr
    assert not any("private-content-42" in json.dumps(r.body) for r in fake_model.requests)
    results = run.of("tool_result")
    assert len(results) == 2 and all(r["is_error"] for r in results)
    assert all("outside the repository" in r["content"] for r in results)
    assert "private-content-42" not in run.stdout
    assert not (world.tmp / "escaped.txt").exists()
    assert run.of("diff")[0]["files"] == []


def test_large_tool_results_are_bounded(world, fake_model):
    world.repo("acme", "widgets", {"big.txt": "x" * 200 + "\n" * 1 + ("line\n" * 3000)})
    fake_model.scripts["default"] = [
        reply(tool_use("Read", {"file_path": f"{world.clone}/big.txt"})),
        reply(text("Big file.")),
    ]
    run = world.run(world.env(fake_model.base_url))

    assert run.returncode == 0, run.stderr
    result = run.of("tool_result")[0]
    assert result["truncated"] is True
    assert len(result["content"].encode()) <= 4096


def test_variations_sharing_one_model_server_follow_their_own_scripts(world, fake_model):
    world.repo("acme", "widgets", FILES)
    fake_model.scripts.update(ok=[reply(text("all good"))], broken=[fault(401)])
    fake_model.select = per_session("ok", "broken")
    worlds = [Workspace(world.tmp / f"v{i}", mirror=world.mirror) for i in range(2)]
    procs = [w.start(w.env(fake_model.base_url, VARIATION_ID=str(i)))
             for i, w in enumerate(worlds)]
    codes = sorted(p.wait(timeout=60) for p in procs)
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert codes == [0, 4]
