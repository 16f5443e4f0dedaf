"""The fake Messages API speaks the wire format clients expect (checked without the CLI)."""
from __future__ import annotations

import json

import requests

from tests.agent.fake_anthropic import FakeAnthropic, cut, fault, reply, text, thinking, tool_use


def _sse(response: requests.Response) -> list[dict]:
    return [json.loads(line[len("data: "):]) for line in response.iter_lines(decode_unicode=True)
            if line.startswith("data: ")]


def test_streams_scripted_turns_in_the_messages_wire_format():
    script = [reply(thinking("hmm"), text("hi"), tool_use("Read", {"file_path": "a"}, "t1")),
              reply(text("bye"))]
    with FakeAnthropic({"chat": script}) as fake:
        body = {"model": "m", "stream": True, "tools": [{"name": "Read"}],
                "messages": [{"role": "user", "content": "[[fake:chat]] go"}]}
        events = _sse(requests.post(f"{fake.base_url}/v1/messages", json=body, stream=True))
        kinds = [e["type"] for e in events]
        assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
        starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
        assert starts == ["thinking", "text", "tool_use"]
        deltas = {e["delta"]["type"] for e in events if e["type"] == "content_block_delta"}
        assert deltas == {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"}
        partial = "".join(e["delta"]["partial_json"] for e in events
                          if e["type"] == "content_block_delta" and e["index"] == 2)
        assert json.loads(partial) == {"file_path": "a"}
        assert events[-2]["delta"]["stop_reason"] == "tool_use"

        # The turn is the number of assistant messages so far.
        body["messages"] += [{"role": "assistant", "content": "x"},
                             {"role": "user", "content": "y"}]
        body["stream"] = False
        whole = requests.post(f"{fake.base_url}/v1/messages", json=body).json()
        assert whole["content"] == [{"type": "text", "text": "bye"}]
        assert [r.turn for r in fake.message_requests()] == [0, 1]


def test_faults_and_other_endpoints():
    with FakeAnthropic({"default": [fault(429, "slow", retry_after=0)]}) as fake:
        body = {"model": "m", "stream": True, "tools": [{"name": "Read"}],
                "messages": [{"role": "user", "content": "hi"}]}
        answer = requests.post(f"{fake.base_url}/v1/messages", json=body)
        assert answer.status_code == 429 and answer.headers["retry-after"] == "0"
        assert answer.json()["error"]["type"] == "rate_limit_error"
        tokens = requests.post(f"{fake.base_url}/v1/messages/count_tokens", json=body)
        assert tokens.json()["input_tokens"] > 0
        assert requests.get(f"{fake.base_url}/v1/models").json()["data"]
        assert requests.get(f"{fake.base_url}/v1/other").status_code == 404

    with FakeAnthropic({"default": [cut(reply(text("x" * 100)), after_events=2)]}) as fake:
        try:
            events = _sse(requests.post(f"{fake.base_url}/v1/messages", json=body,
                                        stream=True, timeout=5))
        except requests.RequestException:
            events = []
        assert "message_stop" not in [e["type"] for e in events]
