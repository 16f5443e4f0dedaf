"""The Tiltfile parses and runs under a real Starlark interpreter, and everything it points
at exists and agrees with the chart, the dev values, the cluster config and the Dockerfiles."""
from __future__ import annotations

import re

import pytest
import yaml

from .conftest import CHART, DEV_VALUES, ROOT, find, helm
from .dockerfile import build_chain, stages
from .tiltfile_eval import TiltRun, evaluate

TILTFILE = ROOT / "Tiltfile"
CTLPTL = ROOT / "deploy" / "ctlptl.yaml"


@pytest.fixture(scope="module")
def tilt() -> TiltRun:
    return evaluate(TILTFILE)


def test_it_creates_or_reuses_the_cluster_on_up_only(tilt: TiltRun) -> None:
    (command,), _ = tilt.one("local")
    assert command == f"ctlptl apply -f {CTLPTL.relative_to(ROOT)}"
    assert CTLPTL.is_file()
    assert evaluate(TILTFILE, subcommand="down").called("local") == []


def test_it_refuses_any_other_cluster() -> None:
    with pytest.raises(Exception, match='kubectl context is "prod-cluster"'):
        evaluate(TILTFILE, context="prod-cluster")


def test_the_cluster_config_has_k3d_and_the_registry_on_5005(tilt: TiltRun) -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all(CTLPTL.read_text())}
    assert docs["Registry"]["port"] == 5005
    cluster = docs["Cluster"]
    assert cluster["product"] == "k3d" and cluster["registry"] == docs["Registry"]["name"]
    (contexts,), _ = tilt.one("allow_k8s_contexts")
    assert contexts == cluster["name"]
    assert tilt.module["REGISTRY_PUSH"] == "localhost:5005"
    # k3d mirrors the registry into the nodes under its container name and internal port.
    assert tilt.module["REGISTRY_PULL"] == docs["Registry"]["name"] + ":5000"


def test_the_api_image_live_updates_python_code(tilt: TiltRun) -> None:
    (image, context), kwargs = tilt.one("docker_build", "aideator-api")
    dockerfile = ROOT / context / kwargs["dockerfile"]
    assert dockerfile.is_file()
    assert re.search(rf"^FROM \S+ AS {kwargs['target']}$", dockerfile.read_text(), re.M)
    for path in kwargs["only"]:
        assert (ROOT / context / path).exists(), path
    syncs = [args for args, _ in tilt.called("sync")]
    assert ("aideator", "/app/aideator") in syncs
    for local_path, container_path in syncs:
        assert (ROOT / local_path).exists(), local_path
        assert container_path.startswith("/app/")
    assert "WORKDIR /app" in dockerfile.read_text()
    (fallbacks,), _ = tilt.one("fall_back_on")
    assert "requirements.lock" in fallbacks and all((ROOT / f).exists() for f in fallbacks)
    # Tilt sends only these paths as the build context: all the dev target copies.
    for stage in build_chain(stages(dockerfile.read_text()), kwargs["target"]):
        for ins in stage.instructions:
            if ins.keyword == "COPY":
                for source in ins.flags_and_operands()[1][:-1]:
                    assert source.rstrip("/") in kwargs["only"], source


def test_the_agent_image_is_built_from_agent_and_pushed_where_the_chart_pulls(
        tilt: TiltRun) -> None:
    _, kwargs = tilt.one("local_resource", "agent-image")
    assert (ROOT / "agent" / "Dockerfile").is_file()
    assert kwargs["deps"] == ["agent"]
    push_ref = f"localhost:5005/aideator-agent:{tilt.module['AGENT_TAG']}"
    assert f"docker build -t {push_ref} agent" in kwargs["cmd"]
    assert f"docker push {push_ref}" in kwargs["cmd"]
    dev = yaml.safe_load(DEV_VALUES.read_text())["agents"]["image"]
    assert f"{dev['repository']}:{dev['tag']}" == \
        f"{tilt.module['REGISTRY_PULL']}/aideator-agent:{tilt.module['AGENT_TAG']}"
    assert dev["pullPolicy"] == "Always"


def test_the_chart_is_deployed_with_the_dev_values(tilt: TiltRun) -> None:
    (chart,), kwargs = tilt.one("helm")
    assert (ROOT / chart / "Chart.yaml").is_file()
    assert [ROOT / v for v in kwargs["values"]] == [DEV_VALUES] and DEV_VALUES.is_file()
    ((yaml_arg,), _), = tilt.called("k8s_yaml")
    assert yaml_arg == f"<helm {chart}>"


def test_the_api_resource_is_port_forwarded_and_exists_in_the_chart(tilt: TiltRun) -> None:
    (_, kwargs), = tilt.called("k8s_resource")
    (name,), _ = tilt.one("k8s_resource")
    assert kwargs["port_forwards"] == ["8000:8000"]
    assert kwargs["resource_deps"] == ["agent-image"]
    # Render as Tilt does (helm template, dev values, the Tiltfile's --set) and check the
    # resource name is the Deployment's and the image Tilt builds is the one it runs.
    (chart,), helm_kwargs = tilt.one("helm")
    args = ["template", helm_kwargs["name"], str(ROOT / chart)]
    for values in helm_kwargs["values"]:
        args += ["-f", str(ROOT / values)]
    for item in helm_kwargs["set"]:
        args += ["--set", item]
    objects = [d for d in yaml.safe_load_all(helm(*args).stdout) if d]
    deployment = find(objects, "Deployment", name)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].split(":")[0] == "aideator-api"      # replaced by Tilt
    assert "--reload" in container["args"]
    assert container["ports"][0]["containerPort"] == 8000


def test_the_api_key_becomes_a_secret_without_showing_in_the_yaml() -> None:
    run = evaluate(TILTFILE, environ={"ANTHROPIC_API_KEY": "sk-test-secret"})
    _, kwargs = run.one("local_resource", "anthropic-secret")
    assert "sk-test-secret" not in str(run.calls)
    assert '"$ANTHROPIC_API_KEY"' in kwargs["cmd"]
    assert "create secret generic aideator-anthropic" in kwargs["cmd"]
    names = [args[0] for args, _ in evaluate(TILTFILE).called("local_resource")]
    assert names == ["agent-image"]                  # no key: no Secret resource


def test_a_starlark_error_in_the_tiltfile_would_be_caught(tmp_path) -> None:
    broken = tmp_path / "Tiltfile"
    broken.write_text("x = [i for i in range(3)\n")
    with pytest.raises(Exception):
        evaluate(broken)
    python_only = tmp_path / "Tiltfile2"
    python_only.write_text("class Foo:\n    pass\n")
    with pytest.raises(Exception):
        evaluate(python_only)
    assert CHART.is_dir()
