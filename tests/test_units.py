"""Pure pieces: names, request merging, the event vocabulary, settings."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from aideator.config import Settings, load_settings
from aideator.naming import DNS1123_LABEL, is_run_id, job_name, new_run_id
from aideator.runs.request import variation_configs
from aideator.schemas import ValidationFailed
from aideator.stream import events
from aideator.stream.sse import frames, frames_after


def test_run_ids_and_job_names_are_kubernetes_names():
    ids = {new_run_id() for _ in range(1000)}
    assert len(ids) == 1000
    for run_id in ids:
        assert is_run_id(run_id) and DNS1123_LABEL.match(run_id)
        name = job_name(run_id, 4)
        assert DNS1123_LABEL.match(name) and len(name) <= 63
    assert not is_run_id("run_k8s_abc123")
    with pytest.raises(ValueError):
        job_name("Run_K8S", 0)


def test_variation_configs_merge_defaults_run_config_and_overrides():
    cc = {"engine": "claude-code"}
    body = {"agent_config": {"temperature": 0.1},
            "variation_configs": [{}, {"model": "claude-haiku-4-5", "temperature": 0.9}]}
    assert variation_configs(body, "claude-sonnet-4-5") == [
        {**cc, "model": "claude-sonnet-4-5", "temperature": 0.1},
        {**cc, "model": "claude-haiku-4-5", "temperature": 0.9}]
    assert len(variation_configs({}, "m")) == 3
    assert variation_configs({"variations": 1}, "m") == [{**cc, "model": "m"}]
    # Variations without an item of their own use agent_config.
    assert variation_configs({"variations": 3, "variation_configs": [{"model": "x"}]},
                             "m") == [{**cc, "model": "x"}, {**cc, "model": "m"},
                                      {**cc, "model": "m"}]
    with pytest.raises(ValidationFailed) as err:
        variation_configs({"variations": 1, "variation_configs": [{}, {}]}, "m")
    assert err.value.field == "variation_configs"


def test_a_variation_naming_an_engine_but_no_model_gets_that_engines_default():
    body = {"agent_config": {"model": "claude-opus-4-1", "max_turns": 5},
            "variation_configs": [{}, {"engine": "codex"},
                                  {"engine": "gemini", "model": "gemini-2.5-flash",
                                   "prompt": "Only the README"},
                                  {"engine": "claude-code"}]}
    got = variation_configs(body, "claude-sonnet-4-5")
    assert [(c["engine"], c["model"]) for c in got] == [
        ("claude-code", "claude-opus-4-1"), ("codex", "gpt-5.5"),
        ("gemini", "gemini-2.5-flash"), ("claude-code", "claude-opus-4-1")]
    assert all(c["max_turns"] == 5 for c in got)
    assert got[2]["prompt"] == "Only the README" and "prompt" not in got[1]
    # The run's engine without a model: that engine's default, for every variation
    # that does not name another.
    got = variation_configs({"variations": 2, "agent_config": {"engine": "gemini"},
                             "variation_configs": [{}, {"engine": "claude-code"}]}, "m")
    assert [(c["engine"], c["model"]) for c in got] == [("gemini", "gemini-2.5-pro"),
                                                        ("claude-code", "m")]


def test_an_engine_without_its_key_in_the_service_is_named_with_the_variable():
    from aideator.runtimes import engines
    assert engines.missing_key("codex", {}) == \
        "no OPENAI_API_KEY configured for the codex engine"
    assert engines.missing_key("gemini", {"OPENAI_API_KEY": "k"}) == \
        "no GEMINI_API_KEY configured for the gemini engine"
    assert engines.missing_key("codex", {"OPENAI_API_KEY": "k"}) is None
    assert engines.missing_key("claude-code", {}) is None


def test_the_services_engine_table_names_the_agents_engines_and_defaults():
    import agent.engines as agent_engines
    from aideator.runtimes import engines
    for name in agent_engines.NAMES:
        assert name in engines.ENGINES
        if name != "claude-code":
            assert agent_engines.default_model(name) == engines.ENGINES[name].models[0]


@pytest.mark.parametrize("line,kind,content", [
    ('{"v":1,"type":"thinking","text":"hm"}', "thinking", {"v": 1, "type": "thinking",
                                                           "text": "hm"}),
    ('{"type": 5}', "json", {"type": 5}),
    ("Cloning into 'repo'...", "log", "Cloning into 'repo'..."),
    ('{"x": NaN}', "log", '{"x": NaN}'),
    ('[1, 2]', "log", "[1, 2]"),
    ('{"broken": ', "log", '{"broken": '),
    ("", "log", ""),
])
def test_agent_lines_pass_structured_or_as_text(line, kind, content):
    name, data = events.agent_output(2, "pod-a", line)
    assert name == "agent_output"
    assert json.loads(data) == {"variation_id": 2, "type": kind, "content": content,
                                "pod": "pod-a"}


def test_sse_frames_carry_id_event_and_one_data_line():
    name, data = events.agent_output(0, "p", '{"type":"text","text":"a\\nb"}')
    raw = frames(7, name, [data, data])
    assert raw.startswith(b"id: 7\nevent: agent_output\ndata: {")
    assert raw.endswith(b"\n\n") and raw.count(b"\n") == 8
    assert frames_after(raw, 7, 7).startswith(b"id: 8\n")
    assert frames_after(raw, 7, 6) == raw and frames_after(raw, 7, 8) == b""


def test_settings_come_from_prefixed_environment_variables():
    settings = load_settings({"AIDEATOR_MAX_CONCURRENT_VARIATIONS": "2",
                              "AIDEATOR_AGENT_COMMAND": "python3 -m agent --flag",
                              "AIDEATOR_CANCEL_GRACE_SECONDS": "1.5",
                              "UNRELATED": "x"})
    assert settings.max_concurrent_variations == 2
    assert settings.agent_command == ("python3", "-m", "agent", "--flag")
    assert settings.cancel_grace_seconds == 1.5
    assert settings.runtime == "local"
    with pytest.raises(ValueError, match="AIDEATOR_MAX_BODY_BYTES"):
        load_settings({"AIDEATOR_MAX_BODY_BYTES": "lots"})
    with pytest.raises(ValueError, match="AIDEATOR_RUNTIME"):
        load_settings({"AIDEATOR_RUNTIME": "docker"})


def test_the_readme_documents_every_setting():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for f in fields(Settings):
        assert f"`AIDEATOR_{f.name.upper()}`" in readme, f.name
