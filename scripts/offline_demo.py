"""An offline demo of the whole loop, no API key needed: `make demo`.

It builds a tiny repository behind a local github.com (git http-backend), starts three fake
model APIs on 127.0.0.1 (Anthropic's, OpenAI's Responses API, Google's Gemini API), each
playing a scripted session, starts the service (gunicorn + gevent, local runtime, the real
agent), submits one run with three variations, one per engine (Claude Code, the Codex CLI,
the Gemini CLI), each with its own prompt, prints their thought processes as they stream,
then their diffs and the comparison board, and selects a winner. The agents reach their
models and the repository only through the service's model gateway.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import Server  # noqa: E402
from sse_client import SSEEvent, iter_events  # noqa: E402
from tests.agent import fake_anthropic as claude  # noqa: E402
from tests import fake_gemini as gemini, fake_openai as openai  # noqa: E402
from tests.fake_github import FakeGitHub  # noqa: E402

ENGINES = ("claude-code", "codex", "gemini")
PROMPT = "Make the greeting in greet.txt more welcoming."
# Each variation's own prompt names its fake model's script.
PROMPTS = [f"[[fake:{engine}]] {PROMPT}" for engine in ENGINES]
CLAUDE = [claude.reply(claude.thinking("I should keep the greeting short but friendly."),
                       claude.text("Let me read the greeting first."),
                       claude.tool_use("Read", {"file_path": "greet.txt"})),
          claude.reply(claude.tool_use("Edit", {"file_path": "greet.txt",
                                                "old_string": "hello world",
                                                "new_string": "hello, friend"})),
          claude.reply(claude.text("I changed the greeting to 'hello, friend'."))]
CODEX = [openai.reply(openai.reasoning("A greeting should make an entrance."),
                      openai.message("Editing greet.txt."),
                      openai.patch("*** Begin Patch\n*** Update File: greet.txt\n@@\n"
                                   "-hello world\n+HELLO, WORLD!\n*** End Patch\n")),
         openai.reply(openai.shell("cat greet.txt")),
         openai.reply(openai.message("I changed the greeting to 'HELLO, WORLD!'."))]
GEMINI = [gemini.reply(gemini.thought("Maybe a touch of poetry suits it."),
                       gemini.call("read_file", {"file_path": "greet.txt"})),
          gemini.reply(gemini.call("replace", {"file_path": "greet.txt",
                                               "old_string": "hello world",
                                               "new_string": "hello, bright new morning",
                                               "instruction": "a warmer greeting"})),
          gemini.reply(gemini.text("I changed the greeting to 'hello, bright new morning'."))]
# The Codex CLI's default model is not in the built-in price table.
PRICES = "gpt-5.5: {input: 1.25, output: 10.00, cache_write: 0, cache_read: 0.125}\n"


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
        models = [claude.FakeAnthropic({"claude-code": CLAUDE}),
                  openai.FakeOpenAI({"codex": CODEX}), gemini.FakeGemini({"gemini": GEMINI})]
        prices = Path(tmp) / "prices.yaml"
        prices.write_text(PRICES)
        server = Server(Path(tmp) / "data", github_url=github.start(),
                        prices_file=str(prices))
        del server.env["AIDEATOR_AGENT_COMMAND"]      # run the real agent
        server.env.update({"ANTHROPIC_API_KEY": "demo-key-not-real",
                           "OPENAI_API_KEY": "demo-key-not-real",
                           "GEMINI_API_KEY": "demo-key-not-real",
                           "ANTHROPIC_BASE_URL": models[0].start(),
                           "AIDEATOR_OPENAI_URL": f"{models[1].start()}/v1",
                           "AIDEATOR_GEMINI_URL": models[2].start(),
                           "CLAUDE_CODE_MAX_RETRIES": "1"})
        server.start()
        try:
            print(f"service at {server.base}, fake models at "
                  f"{', '.join(m.base_url for m in models)}\n")
            run = server.post("/runs", {
                "github_url": "https://github.com/acme/widgets", "prompt": PROMPT,
                "variation_configs": [{"engine": engine, "prompt": prompt}
                                      for engine, prompt in zip(ENGINES, PROMPTS)]}).json()
            print(f"POST /runs -> {run}\n")
            for event in iter_events(server.base + run["stream_url"], timeout=120):
                line = describe(event) if isinstance(event, SSEEvent) else None
                if line:
                    print(line)
            for i in range(len(ENGINES)):
                diff = server.get(f"/runs/{run['run_id']}/variations/{i}/diff").json()
                print(f"\n--- diff of variation {i} ({ENGINES[i]})\n{diff['patch']}")
            board = server.get(f"/runs/{run['run_id']}/comparison").json()
            print("--- comparison")
            for row in board["rows"]:
                print(f"variation {row['variation_id']}: {row['engine']} {row['model']} "
                      f"{row['status']}, {row['turns']} turns, {row['input_tokens']} + "
                      f"{row['output_tokens']} tokens, ${row['cost_usd']}")
            choice = server.post(f"/runs/{run['run_id']}/select", {"winning_variation_id": 0})
            print(f"POST /select -> {choice.json()}")
        finally:
            server.stop()
            for model in models:
                model.stop()
            github.stop()


if __name__ == "__main__":
    main()
