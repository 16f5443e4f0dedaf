"""The web app's pages as the service serves them (no browser): shells that load their
scripts, the run id only ever echoed escaped, a strict Content-Security-Policy, pages
open to all with auth required (their data comes from the API, which is not), and every
file shipped in the package."""
from __future__ import annotations

import fnmatch
import sys

from setuptools.dist import Distribution

from helpers import FAKE_AGENT, ROOT

WEB = ROOT / "aideator" / "web"


def test_pages_are_served_with_their_scripts_and_a_strict_policy(client):
    for path, script in (("/", "new-run.js"), ("/runs", "runs-list.js"),
                         ("/runs/run-k3x9m2p7q1", "run-page.js"),
                         ("/settings", "settings.js")):
        page = client.get(path)
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert f'src="/assets/js/{script}"' in page.text
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy
        assert page.headers["X-Content-Type-Options"] == "nosniff"
    script = client.get("/assets/js/run-page.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"


def test_the_run_id_in_the_address_is_only_echoed_escaped(client):
    page = client.get('/runs/"><img%20src=x%20onerror=alert(1)>')
    assert page.status_code == 200
    assert "<img" not in page.text
    assert 'data-run-id="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page.text


def test_with_auth_required_pages_load_and_the_api_asks_for_a_token(tmp_path):
    from aideator import create_app
    app = create_app({"data_dir": str(tmp_path / "data"), "auth": "required",
                      "agent_command": (sys.executable, str(FAKE_AGENT))})
    client = app.test_client()
    assert client.get("/runs").status_code == 200
    assert client.get("/assets/app.css").status_code == 200
    assert client.get("/api/v1/runs").status_code == 401


def test_every_file_of_the_web_app_is_in_the_package_data():
    # Read as setuptools reads it (a list is one item per line, or commas on one line).
    distribution = Distribution()
    distribution.parse_config_files([str(ROOT / "setup.cfg")])
    patterns = distribution.package_data["aideator"]
    shipped = [str(f.relative_to(ROOT / "aideator")) for f in WEB.rglob("*")
               if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".py"]
    assert shipped and all(any(fnmatch.fnmatch(f, p) for p in patterns) for f in shipped), \
        [f for f in shipped if not any(fnmatch.fnmatch(f, p) for p in patterns)]
