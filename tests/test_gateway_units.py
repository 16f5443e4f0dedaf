"""The gateway's pure parts (reading usage from responses, prices) and its usage store on
both databases (SQLite and a real PostgreSQL), added to concurrently without loss."""
from __future__ import annotations

import json
import threading

import pytest

from aideator.gateway import metering, prices


def sse(*events: dict) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode())
                    for e in events)


STREAM = sse(
    {"type": "message_start", "message": {"model": "claude-sonnet-4-5-20250929", "usage": {
        "input_tokens": 100, "output_tokens": 1, "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 30000}}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "text_delta", "text": 'not "usage": {"input_tokens": 9}'}},
    {"type": "message_delta", "usage": {"output_tokens": 40}},
    {"type": "message_delta", "usage": {"output_tokens": 75}},
    {"type": "message_stop"})


@pytest.mark.parametrize("size", [1, 7, 64, len(STREAM)])
def test_streamed_usage_is_read_however_the_stream_is_cut(size):
    meter = metering.Meter(streamed=True, request_model="asked-for")
    for i in range(0, len(STREAM), size):
        meter.feed(STREAM[i:i + size])
    meter.finish()
    assert meter.model == "claude-sonnet-4-5-20250929"
    assert meter.tokens() == {"input_tokens": 100, "output_tokens": 75,
                              "cache_creation_input_tokens": 2000,
                              "cache_read_input_tokens": 30000}


def test_a_whole_response_is_read_at_its_end_and_garbage_is_no_usage():
    meter = metering.Meter(streamed=False, request_model="claude-haiku-4-5")
    body = json.dumps({"type": "message", "usage": {"input_tokens": 5, "output_tokens": 6}})
    meter.feed(body[:10].encode())
    meter.feed(body[10:].encode())
    meter.finish()
    assert meter.seen and meter.model == "claude-haiku-4-5"
    assert meter.tokens()["input_tokens"] == 5 and meter.tokens()["output_tokens"] == 6
    broken = metering.Meter(streamed=False)
    broken.feed(b"<html>bad gateway</html>")
    broken.finish()
    assert not broken.seen


def test_prices_by_longest_family_override_file_and_unpriced(tmp_path):
    sonnet = prices.price("claude-sonnet-4-5-20250929")
    assert sonnet == prices.Price(3.0, 15.0, 3.75, 0.30)
    assert prices.price("claude-opus-4-5") == prices.Price(5.0, 25.0, 6.25, 0.50)
    assert prices.price("claude-opus-4-1-20250805").input == 15.0
    # 100 in, 75 out, 2,000 written to and 30,000 read from the cache.
    tokens = {"input_tokens": 100, "output_tokens": 75,
              "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 30000}
    assert sonnet.cost(tokens) == pytest.approx((300 + 1125 + 7500 + 9000) / 1e6)
    assert prices.price("gpt-5") is None and prices.price(None) is None
    # OpenAI's: by family, and a newer model than the table is unpriced, never a guess.
    assert prices.price("gpt-5.1-codex") == prices.Price(1.25, 10.0, 0.0, 0.125)
    assert prices.price("gpt-5.5") is None
    override = tmp_path / "prices.yaml"
    override.write_text("gpt-5: {input: 1.25, output: 10, cache_write: 0, cache_read: 0.125}\n"
                        "claude-sonnet-4: {input: 1, output: 2, cache_write: 3, cache_read: 4}\n")
    assert prices.price("gpt-5-pro", str(override)).output == 10
    assert prices.price("claude-sonnet-4-5", str(override)).input == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("m: {input: -1, output: 1, cache_write: 1, cache_read: 1}\n")
    with pytest.raises(ValueError, match="m.input"):
        prices.price("m", str(bad))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_usage_adds_up_across_concurrent_writers(database, tmp_path, request):
    from aideator.store import usage
    from aideator.store.models import Run, Variation, close_db, connection, init_db
    url = (request.getfixturevalue("pg_url") if database == "postgresql"
           else f"sqlite:///{tmp_path / 'u.db'}")
    init_db(url)
    try:
        with connection():
            run = Run.create(id="run-usage00001", github_url="https://github.com/a/b",
                             prompt="p", variation_count=1, agent_config={},
                             runtime="local")
            Variation.create(run=run, index=0, config={}, job_name="agent-run-usage00001-0")
        tokens = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 1}

        def calls() -> None:
            for _ in range(10):
                usage.add(run.id, 0, tokens, 0.25)
        if database == "postgresql":   # connections per thread: truly concurrent writers
            writers = [threading.Thread(target=calls) for _ in range(4)]
            for w in writers:
                w.start()
            for w in writers:
                w.join()
        else:
            for _ in range(4):
                calls()
        usage.add(run.id, 0, tokens, None)
        usage.refuse(run.id, 0)
        first_refusal = usage.of_variation(run.id, 0)["refused_at"]
        usage.refuse(run.id, 0)
        got = usage.of_variation(run.id, 0)
        assert got["calls"] == 41 and got["input_tokens"] == 410
        assert got["output_tokens"] == 205 and got["cache_read_input_tokens"] == 41
        assert got["cost_usd"] == pytest.approx(10.0) and usage.cost(run.id, 0) == 10.0
        assert got["unpriced_calls"] == 1 and got["refused_calls"] == 2
        assert got["refused_at"] == first_refusal is not None
        assert usage.of_run(run.id) == {0: got}
        assert usage.of_variation(run.id, 1) == usage.EMPTY
    finally:
        close_db()


def test_the_gateway_only_app_serves_the_gateway_and_nothing_else():
    from aideator import gateway
    from aideator.config import load_settings
    app = gateway.create_app(load_settings({}))
    rules = {rule.rule for rule in app.url_map.iter_rules()} - {"/static/<path:filename>"}
    assert rules and all(rule.startswith("/gateway/") for rule in rules), rules
    client = app.test_client()
    refused = client.post("/gateway/anthropic/v1/messages", json={})
    assert refused.status_code == 401
    assert refused.json["error"]["type"] == "authentication_error"
    assert client.get("/api/v1/runs").status_code == 404
    assert client.post("/gateway/git/a/b/git-receive-pack").status_code == 403
