"""The chart's monitoring: scrape annotations on the API pods, a ServiceMonitor only where
the Prometheus Operator's CRD exists and it is asked for, and the Grafana dashboard."""
from __future__ import annotations

import json
import re

import kubernetes_validate
import pytest
from prometheus_client import Counter, Gauge, Histogram

from aideator.ops import metrics

from .conftest import CHART, KUBE_VERSIONS, NAMESPACE, RELEASE, find, helm, kinds, render

CRD = ("--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")
MONITOR = ("--set", "metrics.serviceMonitor.enabled=true")
DASHBOARD = ("--set", "metrics.dashboard.enabled=true")


def pod_annotations(objects: list[dict]) -> dict[str, str]:
    return find(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_api_pods_carry_scrape_annotations_for_their_metrics_port():
    objects = render("--set", "api.port=8080", "--set", "metrics.port=9200")
    annotations = pod_annotations(objects)
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9200"
    assert annotations["prometheus.io/path"] == "/metrics"
    # Metrics have a port of their own, which the service sets and the Ingress never routes.
    [container] = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "metrics": 9200}
    assert find(objects, "ConfigMap")["data"]["AIDEATOR_METRICS_PORT"] == "9200"
    ingress = find(render("--set", "api.ingress.enabled=true"), "Ingress")
    backends = [path["backend"]["service"]["port"] for rule in ingress["spec"]["rules"]
                for path in rule["http"]["paths"]]
    assert backends and all(port == {"name": "http"} for port in backends)
    assert "prometheus.io/scrape" not in pod_annotations(
        render("--set", "metrics.scrapeAnnotations=false"))
    # The user's pod annotations win.
    overridden = pod_annotations(render("--set-string",
                                        "api.podAnnotations.prometheus\\.io/scrape=false"))
    assert overridden["prometheus.io/scrape"] == "false"


@pytest.mark.parametrize("args", [(), MONITOR, CRD], ids=["neither", "switch only",
                                                          "CRD only"])
def test_no_service_monitor_without_both_the_crd_and_the_switch(args):
    assert "ServiceMonitor" not in kinds(render(*args))


def test_service_monitor_scrapes_the_api_service():
    objects = render(*CRD, *MONITOR, "--set", "metrics.serviceMonitor.interval=15s",
                     "--set", "metrics.serviceMonitor.labels.release=prometheus")
    monitor = find(objects, "ServiceMonitor")
    service = find(objects, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == NAMESPACE
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint == {"port": "metrics", "path": "/metrics", "interval": "15s",
                        "scrapeTimeout": "10s"}
    assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]


def exposed_names() -> set[str]:
    """Every series name aideator.ops.metrics exposes."""
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names |= {f"{value._name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        elif isinstance(value, Gauge):
            names.add(value._name)
    return names


def test_dashboard_configmap_only_when_enabled_with_a_dashboard_that_parses():
    assert all(o["metadata"]["name"] != f"{RELEASE}-dashboard" for o in render())
    objects = render(*DASHBOARD, "--set", "metrics.dashboard.namespace=monitoring")
    config_map = find(objects, "ConfigMap", f"{RELEASE}-dashboard")
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["aideator.json"])
    assert dashboard == json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in panels}

    def panel_showing(*parts: str) -> str:
        found = [title for title, expr in exprs.items() if all(p in expr for p in parts)]
        assert found, parts
        return found[0]

    panel_showing("aideator_runs_finished_total", "by (status)")
    panel_showing("aideator_variations_finished_total", 'outcome="failed"', "by (reason)")
    panel_showing("aideator_agent_cost_usd_total", "by (model)")
    panel_showing("histogram_quantile", "aideator_delivery_lag_seconds_bucket")
    # Every series a panel asks for is one the service exposes.
    used = set(re.findall(r"aideator_[a-z_]+", " ".join(exprs.values())))
    assert used <= exposed_names(), used - exposed_names()
    # Panels sit on Grafana's grid, each with its own id, on the chosen data source.
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert 0 < panel["gridPos"]["w"] and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_monitoring_objects_validate_strictly(version):
    for obj in render(*DASHBOARD, *CRD, *MONITOR):
        if obj["kind"] != "ServiceMonitor":   # a CRD: no official schema to check against
            kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("args", [
    ["--set", "metrics.serviceMonitor.interval=often"],
    ["--set", "metrics.dashboard.enable=true"],
    ["--set", "api.logFormat=yaml"],
    ["--set", "api.logLevel=verbose"],
], ids=["bad interval", "misspelt switch", "unknown log format", "unknown log level"])
def test_bad_monitoring_values_fail(args):
    result = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args, check=False)
    assert result.returncode != 0 and "schema" in result.stderr, result.stderr


def test_log_settings_reach_the_service():
    config = find(render("--set", "api.logLevel=debug"), "ConfigMap", RELEASE)["data"]
    assert config["AIDEATOR_LOG_FORMAT"] == "json"
    assert config["AIDEATOR_LOG_LEVEL"] == "debug"
