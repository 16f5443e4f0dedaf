"""The Dockerfiles, checked statically (no Docker engine here): what they copy exists and is
not excluded by .dockerignore, they run as the uid the chart and the Job template expect, and
the API image starts the way the chart starts it."""
from __future__ import annotations

import fnmatch
import re

import yaml

from .conftest import CHART, ROOT

API = ROOT / "Dockerfile"
AGENT = ROOT / "agent" / "Dockerfile"


def stages(text: str) -> list[str]:
    return re.findall(r"^FROM \S+(?: AS (\S+))?$", text, re.M)


def instructions(text: str, name: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", text)
    return [m.group(1).strip() for m in re.finditer(rf"^{name} (.+)$", joined, re.M)]


def ignored(path: str) -> bool:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    return any(fnmatch.fnmatch(path, p.rstrip("/")) or path.startswith(p.rstrip("/") + "/")
               for p in patterns if not p.startswith("!"))


def test_plain_docker_build_gives_the_production_stage() -> None:
    assert stages(API.read_text()) == ["base", "dev", "production"]
    assert stages(API.read_text())[-1] == "production"     # the default target


def test_everything_the_api_image_copies_exists_and_is_in_the_context() -> None:
    for copy in instructions(API.read_text(), "COPY"):
        *sources, _ = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not ignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"


def test_the_api_image_runs_gunicorn_as_the_charts_uid() -> None:
    text = API.read_text()
    assert instructions(text, "CMD") == ['["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]']
    assert "EXPOSE 8000" in text
    users = instructions(text, "USER")
    assert users[-1] == "10001:10001" and "root" not in users[0]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["api"]["podSecurityContext"]["runAsUser"] == 10001
    assert values["api"]["podSecurityContext"]["fsGroup"] == 10001


def test_the_api_image_leaves_the_agent_sdk_out() -> None:
    # requirements.txt pulls the agent's requirements in with -r; the API image drops them.
    requirements = (ROOT / "requirements.txt").read_text().splitlines()
    includes = [line for line in requirements if line.startswith("-r ")]
    assert includes == ["-r agent/requirements.txt"]
    assert "grep -v '^-r '" in API.read_text()


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    for path in (".git", ".venv", "data", ".env", "tests", "chart"):
        assert ignored(path), path
    for path in ("aideator", "agent", "manifests", "wsgi.py", "gunicorn.conf.py",
                 "requirements.txt"):
        assert not ignored(path), path


def test_the_agent_image_uid_matches_the_job_template() -> None:
    job = yaml.safe_load((ROOT / "manifests" / "job.yaml").read_text())
    uid = job["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert instructions(AGENT.read_text(), "USER")[-1].split(":")[0] == str(uid)


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
