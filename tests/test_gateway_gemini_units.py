"""The gateway's Gemini metering, fed the API's stream as it arrives (split anywhere)."""
from __future__ import annotations

import json

from aideator.gateway import gemini, prices


def _sse(*chunks: dict) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)


def test_usage_metadata_of_the_last_chunk_is_the_calls():
    body = _sse({"candidates": [{"content": {"parts": [{"text": "a"}]}}],
                 "modelVersion": "gemini-2.5-pro"},
                {"candidates": [{"content": {"parts": [{"text": "b"}]}}],
                 "usageMetadata": {"promptTokenCount": 1000, "cachedContentTokenCount": 400,
                                   "candidatesTokenCount": 50, "thoughtsTokenCount": 30}})
    meter = gemini.GeminiMeter(True, "gemini-2.5-pro")
    for i in range(0, len(body), 7):
        meter.feed(body[i:i + 7])
    meter.finish()
    assert meter.seen and meter.model == "gemini-2.5-pro"
    assert meter.tokens() == {"input_tokens": 600, "output_tokens": 80,
                              "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 400}
    price = prices.price(meter.model)
    assert price is not None
    assert abs(price.cost(meter.tokens()) - (600 * 1.25 + 80 * 10 + 400 * 0.31) / 1e6) < 1e-12


def test_the_real_key_comes_from_the_service_environment_only():
    up = gemini.upstream({"GEMINI_API_KEY": "real-key",
                          "AIDEATOR_GEMINI_URL": "http://127.0.0.1:9/"})
    assert up.base_url == "http://127.0.0.1:9" and up.headers == {"x-goog-api-key": "real-key"}
    assert "real-key" not in repr(up)
