"""User text reaches the agent byte-identical: rendered into a Job, sent through the real
client and the fake API server, expanded by the fake kubelet, read back from the pod log."""
from __future__ import annotations

import json

from .conftest import GATEWAY_TOKEN, GATEWAY_URL, NAMESPACE, RUN_ID, render

NASTY = (
    "Fix it's \"quoted\" `backticks`\n"
    "key: value\n- item\n---\n... \n"
    "{{ .Values.secret }} {% raw %} ${HOME} $HOME $(rm -rf /) $$(RUN_ID) $(RUN_ID) $$ $\n"
    "#comment &anchor *alias !!python/object:os.system ['x'] | > @ % \\ \\n \t tab\r\n"
    "ünïcödé ☃ 🚀 \u200b zero-width ‏rtl\u202e\n"
    "trailing newline\n"
)


def _agent_env(batch, core, fake_kube, job: dict) -> dict[str, str]:
    name = batch.create_namespaced_job(NAMESPACE, job).metadata.name
    pod = fake_kube.wait_for(lambda: [p for p in fake_kube.pods_of(name)
                                      if p["status"]["phase"] == "Succeeded"])[0]
    log = core.read_namespaced_pod_log(pod["metadata"]["name"], NAMESPACE)
    return json.loads(log.splitlines()[0])["env"]


def test_prompt_and_config_values_arrive_byte_identical(batch, core, fake_kube) -> None:
    job = render(prompt=NASTY, config={"fake_dump_env": 1, "note": NASTY})
    env = _agent_env(batch, core, fake_kube, job)
    assert env["PROMPT"] == NASTY
    assert env["NOTE"] == NASTY
    assert env["RUN_ID"] == RUN_ID and env["VARIATION_ID"] == "0"
    # The gateway and the variation's own credential: no Secret, no model key.
    assert env["ANTHROPIC_API_KEY"] == GATEWAY_TOKEN
    assert env["ANTHROPIC_BASE_URL"] == f"{GATEWAY_URL}/gateway/anthropic"
    assert env["WORKSPACE"] == "/workspace" and env["HOME"] == "/home/agent"


def test_without_escaping_the_kubelet_would_rewrite_the_prompt(batch, core, fake_kube) -> None:
    # Why render_job doubles "$": the same text written raw into the Job is expanded.
    job = render(config={"fake_dump_env": 1})
    env_list = job["spec"]["template"]["spec"]["containers"][0]["env"]
    prompt = next(e for e in env_list if e["name"] == "PROMPT")
    prompt["value"] = "id=$(RUN_ID) cost=$$5 $(rm -rf /)"
    env = _agent_env(batch, core, fake_kube, job)
    assert env["PROMPT"] == f"id={RUN_ID} cost=$5 $(rm -rf /)"


def test_a_prompt_over_128_kib_cannot_start_the_container(batch, fake_kube) -> None:
    # Linux caps one env string at 128 KiB (MAX_ARG_STRLEN); exec fails, as in a cluster.
    name = batch.create_namespaced_job(NAMESPACE, render(prompt="x" * 140_000)).metadata.name
    pod = fake_kube.wait_for(lambda: [p for p in fake_kube.pods_of(name)
                                      if p["status"]["phase"] == "Failed"])[0]
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (state["exitCode"], state["reason"]) == (128, "StartError")
