"""An offline demo of the whole loop, no API key needed: `make demo`.

It builds a tiny repository behind a local github.com (git http-backend), starts a fake Anthropic
model on 127.0.0.1 that plays three different scripted sessions, starts the service
(gunicorn + gevent, local runtime, the real agent and Claude Code CLI), submits one run
with three variations, prints their thought processes as they stream, then their diffs,
and selects a winner. The agents reach the model and the repository only through the
service's model gateway.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import Server  # noqa: E402
from sse_client import SSEEvent, iter_events  # noqa: E402
from tests.agent.fake_anthropic import FakeAnthropic, reply, text, thinking, tool_use  # noqa: E402,E501
from tests.fake_github import FakeGitHub  # noqa: E402

STYLES = {
    "claude-demo-careful": ("I should keep the greeting short but friendly.", "hello, friend"),
    "claude-demo-bold": ("A greeting should make an entrance.", "HELLO, WORLD!"),
    "claude-demo-poetic": ("Maybe a touch of poetry suits it.", "hello, bright new morning"),
}


def script(thought: str, greeting: str) -> list:
    return [reply(thinking(thought), text("Let me read the greeting first."),
                  tool_use("Read", {"file_path": "greet.txt"})),
            reply(tool_use("Edit", {"file_path": "greet.txt", "old_string": "hello world",
                                    "new_string": greeting})),
            reply(text(f"I changed the greeting to {greeting!r}."))]


def describe(event: SSEEvent) -> str | None:
    data = event.data
    if event.event != "agent_output":
        return f"== {event.event}: {data}"
    content, tag = data["content"], f"[variation {data['variation_id']}]"
    if data["type"] == "log" or not isinstance(content, dict):
        return f"{tag} {content}"
    kind = content["type"]
    if kind.endswith("_delta"):
        return None   # the complete block follows
    if kind == "thinking":
        return f"{tag} thinking: {content['thinking']}"
    if kind == "text":
        return f"{tag} says: {content['text']}"
    if kind == "tool_use":
        return f"{tag} calls {content['name']} {content['input']}"
    if kind == "tool_result":
        return f"{tag} {content['name']} answered: {content['content'][:60]!r}"
    if kind == "status":
        return f"{tag} status: {content['phase']}"
    if kind == "result":
        return f"{tag} finished after {content['num_turns']} turns"
    if kind == "diff":
        return f"{tag} changed {content['files']}"
    return f"{tag} {kind}"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="aideator-demo-") as tmp:
        github = FakeGitHub(Path(tmp) / "github")
        github.repo("acme", "widgets", {"greet.txt": "hello world\n"})
        model = FakeAnthropic({name: script(*style) for name, style in STYLES.items()})
        server = Server(Path(tmp) / "data", github_url=github.start())
        del server.env["AIDEATOR_AGENT_COMMAND"]      # run the real agent
        server.env.update({"ANTHROPIC_API_KEY": "demo-key-not-real",
                           "ANTHROPIC_BASE_URL": model.start(),
                           "CLAUDE_CODE_MAX_RETRIES": "1"})
        server.start()
        try:
            print(f"service at {server.base}, fake model at {model.base_url}\n")
            run = server.post("/runs", {
                "github_url": "https://github.com/acme/widgets",
                "prompt": "Make the greeting in greet.txt more welcoming.",
                "variation_configs": [{"model": name} for name in STYLES]}).json()
            print(f"POST /runs -> {run}\n")
            for event in iter_events(server.base + run["stream_url"], timeout=120):
                line = describe(event) if isinstance(event, SSEEvent) else None
                if line:
                    print(line)
            for i in range(len(STYLES)):
                diff = server.get(f"/runs/{run['run_id']}/variations/{i}/diff").json()
                print(f"\n--- diff of variation {i}\n{diff['patch']}")
            choice = server.post(f"/runs/{run['run_id']}/select", {"winning_variation_id": 0})
            print(f"POST /select -> {choice.json()}")
        finally:
            server.stop()
            model.stop()
            github.stop()


if __name__ == "__main__":
    main()
