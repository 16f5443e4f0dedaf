"""The Dockerfiles, checked statically (no Docker engine here): what they copy exists and is
not excluded by .dockerignore, they run as the uid the chart and the Job template expect, and
the API image starts the way the chart starts it. (test_images.py replays their builds.)"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from aideator.runtimes.kubernetes import manifests

from .conftest import CHART, ROOT
from .dockerfile import DockerIgnore, stages
from .dockerfile import instructions as parse

API = ROOT / "Dockerfile"
AGENT = ROOT / "agent" / "Dockerfile"


def instructions(path: Path, keyword: str) -> list[str]:
    return [i.args for i in parse(path.read_text()) if i.keyword == keyword]


def ignored(path: str) -> bool:
    return DockerIgnore(ROOT).ignored(path)


def test_plain_docker_build_gives_the_production_stage() -> None:
    names = [stage.name for stage in stages(API.read_text())]
    assert names == ["base", "dev", "production"]     # the last one is the default target


def test_everything_the_api_image_copies_exists_and_is_in_the_context() -> None:
    for copy in instructions(API, "COPY"):
        *sources, _ = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not ignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"


def test_the_api_image_runs_gunicorn_as_the_charts_uid() -> None:
    assert instructions(API, "CMD") == ['["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]']
    assert instructions(API, "EXPOSE") == ["8000 9464"]   # the API, its metrics
    users = instructions(API, "USER")
    assert users[-1] == "10001:10001" and "root" not in users[0]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["api"]["podSecurityContext"]["runAsUser"] == 10001
    assert values["api"]["podSecurityContext"]["fsGroup"] == 10001


def test_the_api_image_leaves_the_agent_sdk_out() -> None:
    # requirements.txt pulls the agent's requirements in with -r; the API image installs
    # requirements.lock, which `make lock` writes without them.
    requirements = (ROOT / "requirements.txt").read_text().splitlines()
    includes = [line for line in requirements if line.startswith("-r ")]
    assert includes == ["-r agent/requirements.txt"]
    copied = [args.split()[0] for args in instructions(API, "COPY")]
    assert "requirements.lock" in copied and "requirements.txt" not in copied
    assert not re.search(r"^claude-agent-sdk==", (ROOT / "requirements.lock").read_text(),
                         re.M)


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    for path in (".git", ".venv", "data", ".env", "tests", "chart"):
        assert ignored(path), path
    for path in ("aideator", "agent", "wsgi.py", "gunicorn.conf.py",
                 "requirements.txt"):
        assert not ignored(path), path


def test_the_agent_image_uid_matches_the_job_template() -> None:
    job = yaml.safe_load(manifests.TEMPLATE_PATH.read_text())
    uid = job["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert instructions(AGENT, "USER")[-1].split(":")[0] == str(uid)


# Import name -> the requirement that provides it (directly, or as its own dependency).
DISTRIBUTIONS = {"yaml": "pyyaml", "flask_cors": "flask-cors", "playhouse": "peewee",
                 "werkzeug": "flask",
                 "referencing": "jsonschema", "urllib3": "kubernetes",
                 "opentelemetry": "opentelemetry-api"}


def test_the_api_image_installs_every_package_the_service_imports() -> None:
    # The image installs requirements.txt without the agent's -r include:
    # anything aideator/ imports must therefore be listed there itself.
    import sys
    requirements = {re.split(r"[<>=!~\[; ]", line.strip())[0].lower()
                    for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith(("#", "-r"))}
    imported = set()
    for path in (ROOT / "aideator").rglob("*.py"):
        for match in re.finditer(r"^\s*(?:from ([A-Za-z_]\w*)\S* import|import ([A-Za-z_]\w*))",
                                 path.read_text(), re.M):
            imported.add(match.group(1) or match.group(2))
    third_party = {name for name in imported
                   if name not in sys.stdlib_module_names and name not in ("aideator", "agent")}
    missing = {name for name in third_party
               if DISTRIBUTIONS.get(name, name).lower().replace("_", "-") not in requirements}
    assert not missing, f"imported by aideator/ but not in requirements.txt: {missing}"


def test_every_base_image_is_pinned_by_digest() -> None:
    # A tag moves under a rebuild; a digest names one image. Stages built FROM an earlier
    # stage inherit its pin.
    digest = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
    for dockerfile in (API, AGENT):
        all_stages = stages(dockerfile.read_text())
        names = {s.name for s in all_stages if s.name}
        for stage in all_stages:
            assert stage.base in names or digest.match(stage.base), (
                f"{dockerfile.relative_to(ROOT)}: FROM {stage.base} is not pinned by digest")
    # Both images start from the same base, so one refresh updates both.
    assert stages(API.read_text())[0].base == stages(AGENT.read_text())[0].base


def test_apt_packages_are_pinned_or_their_comment_says_why_not() -> None:
    for dockerfile in (API, AGENT):
        text = dockerfile.read_text()
        for ins in parse(text):
            if ins.keyword != "RUN" or "apt-get install" not in ins.args:
                continue
            words = ins.args.split("apt-get install", 1)[1].split("&&")[0].split()
            packages = [w for w in words if not w.startswith("-")]
            unpinned = [p for p in packages if "=" not in p]
            comment = "\n".join(text.splitlines()[max(ins.line - 8, 0):ins.line - 1])
            assert not unpinned or "Not pinned" in comment, (
                f"{dockerfile.relative_to(ROOT)}:{ins.line}: {unpinned} unpinned, unexplained")


def test_the_agent_image_installs_the_engines_clis_from_the_lock_with_npm_ci() -> None:
    found = parse(AGENT.read_text())
    runs = [i.args for i in found if i.keyword == "RUN"]
    npm = [r for r in runs if "npm " in r]
    # One install, from the lock only (`npm ci`, never `npm install`), no install scripts.
    assert len(npm) == 1 and re.search(r"\bnpm ci\b", npm[0]) and "--ignore-scripts" in npm[0]
    assert "npm install" not in AGENT.read_text()
    # The lock (and package.json) is copied before that step, into the folder it runs in,
    # which is where the engines find their CLIs (agent/node_modules/.bin).
    npm_at = next(i.line for i in found if i.keyword == "RUN" and "npm ci" in i.args)
    copies = [i for i in found if i.keyword == "COPY" and "package-lock.json" in i.args
              and i.line < npm_at]
    assert copies and copies[0].args.split()[-1] == "/app/agent/"
    workdirs = [i.args for i in found if i.keyword == "WORKDIR" and i.line < npm_at]
    assert workdirs[-1] == "/app/agent"
    # The checkout's own node_modules never enters the build context.
    assert DockerIgnore(ROOT / "agent").ignored("node_modules")
    assert DockerIgnore(ROOT / "agent").ignored("node_modules/@openai/codex/package.json")
    # Node.js from a download checked by its SHA-256, of a version the CLIs accept.
    adds = [i for i in found if i.keyword == "ADD"]
    assert len(adds) == 1
    flags, (url, _) = adds[0].flags_and_operands()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", flags["checksum"])
    major = int(re.search(r"/node-v(\d+)\.\d+\.\d+-linux-x64\.tar\.xz$", url).group(1))
    wanted = json.loads((ROOT / "agent" / "package.json").read_text())["engines"]["node"]
    assert major >= int(re.fullmatch(r">=(\d+)", wanted).group(1))
