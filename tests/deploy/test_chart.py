"""The Helm chart: lint-clean, renders for every values file, and every object it renders is
valid against the official Kubernetes schemas of recent minors (strict: no unknown fields)."""
from __future__ import annotations

import base64

import kubernetes_validate
import pytest

from aideator.config import ENV_PREFIX, Settings, load_settings

from .conftest import (
    CHART,
    DEFAULT,
    DEV,
    KUBE_VERSIONS,
    NAMESPACE,
    PRODUCTION,
    RELEASE,
    VALUE_SETS,
    api_environment,
    find,
    helm,
    kinds,
    render,
)

EXTRA_ENV = {"AIDEATOR_BIND",                                  # read by gunicorn.conf.py
             "AIDEATOR_WORKERS",
             # the model gateway's upstream, read as Claude Code's own variables are
             "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
             # the Codex and Gemini engines' keys, read by the gateway and aideator/runtimes/engines.py
             "OPENAI_API_KEY", "GEMINI_API_KEY"}


@pytest.mark.parametrize("values", list(VALUE_SETS), ids=list(VALUE_SETS))
def test_helm_lint_strict_is_clean(values: str) -> None:
    result = helm("lint", "--strict", "chart", "--namespace", NAMESPACE, *VALUE_SETS[values])
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_default_values_render_the_whole_release() -> None:
    assert kinds(render()) == sorted([
        "ConfigMap", "Deployment", "LimitRange", "NetworkPolicy", "PersistentVolumeClaim",
        "Pod", "ResourceQuota", "Role", "RoleBinding", "Secret", "Secret", "Service",
        "ServiceAccount"])   # the signing key, the GitHub tokens' encryption key


def test_production_values_render_ingress_and_no_inline_secrets() -> None:
    objects = render(*PRODUCTION)
    assert kinds(objects) == sorted([
        "ConfigMap", "Deployment", "Ingress", "LimitRange", "Namespace", "NetworkPolicy", "Pod",
        "PodDisruptionBudget", "ResourceQuota", "Role", "RoleBinding", "Service",
        "ServiceAccount"])
    assert "Secret" not in kinds(objects)                  # every Secret is referenced
    assert "PersistentVolumeClaim" not in kinds(objects)   # PostgreSQL holds the data


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", list(VALUE_SETS), ids=list(VALUE_SETS))
def test_every_rendered_object_validates_strictly(values: str, version: str) -> None:
    objects = render(*VALUE_SETS[values])
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_optional_objects_validate_strictly(version: str) -> None:
    objects = render("--set", "database.url=postgresql://u:p@db:5432/aideator",
                     "--set", "anthropic.apiKey=sk-test",
                     "--set", "anthropic.baseUrl=https://llm-proxy.example.com",
                     "--set", "agents.namespace=agents", "--set", "agents.createNamespace=true",
                     "--set", "agents.runtimeClassName=gvisor",
                     "--set", "api.ingress.enabled=true", "--set", "api.ingress.hosts={a.test}",
                     "--set", "api.extraEnv[0].name=AIDEATOR_FANOUT_WINDOW",
                     "--set-string", "api.extraEnv[0].value=100")
    # The database URL, the model key, the signing key and the encryption key.
    assert kinds(objects).count("Secret") == 4 and "Namespace" in kinds(objects)
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_catches_a_misspelt_field() -> None:
    deployment = find(render(), "Deployment")
    deployment["spec"]["template"]["spec"]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("values", list(VALUE_SETS), ids=list(VALUE_SETS))
def test_every_env_var_is_a_setting_the_service_reads(values: str) -> None:
    env = api_environment(render(*VALUE_SETS[values]))
    known = {ENV_PREFIX + name.upper() for name in Settings.__dataclass_fields__} | EXTRA_ENV
    assert set(env) <= known, set(env) - known
    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    settings = load_settings(plain)                 # every value parses as its setting's type
    assert settings.runtime == "kubernetes"
    assert settings.data_dir == "/data"
    assert plain["AIDEATOR_BIND"] == "0.0.0.0:8000"


def test_defaults_use_sqlite_on_the_claim() -> None:
    objects = render()
    env = api_environment(objects)
    assert "AIDEATOR_DATABASE_URL" not in env       # empty: sqlite in the data dir
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = find(objects, "PersistentVolumeClaim")
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts == {"data": "/data", "tmp": "/tmp"}
    assert "emptyDir" in volumes["tmp"]


def test_sqlite_is_one_pod_recreated_never_rolled() -> None:
    for values in (DEFAULT, DEV):
        objects = render(*values)
        spec = find(objects, "Deployment")["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {"type": "Recreate"}
        assert "PodDisruptionBudget" not in kinds(objects)


POSTGRES_REPLICAS = ("--set", "database.url=postgresql://u:p@db:5432/aideator",
                     "--set", "api.replicas=3")


def test_replicas_on_postgresql_roll_one_at_a_time_and_spread_over_nodes() -> None:
    objects = render(*POSTGRES_REPLICAS)
    deployment = find(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    selector = spec["selector"]["matchLabels"]
    pdb = find(objects, "PodDisruptionBudget")
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": selector}}
    pod = spec["template"]["spec"]
    assert pod["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector}}]
    assert pod["terminationGracePeriodSeconds"] > 10 + 2   # graceful_timeout + hand-over
    # No claim: a ReadWriteOnce volume cannot follow three pods onto three nodes.
    assert "PersistentVolumeClaim" not in kinds(objects)
    assert "emptyDir" in {v["name"]: v for v in pod["volumes"]}["data"]
    env = api_environment(objects)
    assert env["AIDEATOR_REPLICA_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert (env["AIDEATOR_LEASE_SECONDS"], env["AIDEATOR_DB_POOL_SIZE"],
            env["AIDEATOR_WORKERS"]) == ("10", "20", "1")
    service = find(objects, "Service")
    assert service["spec"]["sessionAffinity"] == "None"


def test_production_runs_three_replicas() -> None:
    spec = find(render(*PRODUCTION), "Deployment")["spec"]
    assert spec["replicas"] == 3 and spec["strategy"]["type"] == "RollingUpdate"


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_replica_objects_validate_strictly(version: str) -> None:
    for obj in render(*POSTGRES_REPLICAS, "--set", "api.workers=2"):
        kubernetes_validate.validate(obj, version, strict=True)


def test_api_container_is_locked_down() -> None:
    pod = find(render(), "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}}
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["ports"] == [
        {"name": "http", "containerPort": 8000, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]


def test_probes_readiness_on_health_liveness_independent_of_the_cluster() -> None:
    container = find(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/v1/health", "port": "http"}
    # /health answers 503 while the API server is away: that must not restart the pod.
    assert container["livenessProbe"]["httpGet"]["path"] != "/api/v1/health"
    assert container["livenessProbe"]["failureThreshold"] * \
        container["livenessProbe"]["periodSeconds"] >= 60
    assert container["startupProbe"]["httpGet"]["port"] == "http"


def test_config_changes_roll_the_pod() -> None:
    def checksum(*args: str) -> str:
        annotations = find(render(*args), "Deployment")["spec"]["template"]["metadata"]
        return annotations["annotations"]["checksum/config"]
    assert checksum() == checksum()
    assert checksum() != checksum("--set", "api.corsOrigins=https://a.test")
    assert checksum() != checksum("--set", "agents.image.tag=9.9.9")


def test_images_default_to_the_app_version_and_follow_values() -> None:
    objects = render()
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "aideator-api:2.0.0"
    assert api_environment(objects)["AIDEATOR_AGENT_IMAGE"] == "aideator-agent:2.0.0"
    env = api_environment(render("--set", "agents.image.repository=r.test/agent",
                                 "--set", "agents.image.tag=1.2.3"))
    assert env["AIDEATOR_AGENT_IMAGE"] == "r.test/agent:1.2.3"


def test_agent_settings_come_from_values() -> None:
    env = api_environment(render(
        "--set", "agents.ttlSecondsAfterFinished=60", "--set", "agents.activeDeadlineSeconds=120",
        "--set", "agents.resources.limits.cpu=2", "--set", "agents.resources.requests.memory=1Gi",
        "--set", "agents.image.pullPolicy=Always"))
    settings = load_settings({k: v for k, v in env.items() if isinstance(v, str)})
    assert (settings.job_ttl_seconds, settings.job_deadline_seconds) == (60, 120)
    assert (settings.agent_cpu_limit, settings.agent_memory_request) == ("2", "1Gi")
    assert settings.agent_image_pull_policy == "Always"
    assert settings.kube_namespace == NAMESPACE          # default: the release namespace


def test_database_url_value_goes_through_a_secret() -> None:
    url = "postgresql://aideator:s3cret@db:5432/aideator"
    objects = render("--set", f"database.url={url}")
    secret = find(objects, "Secret", "aideator-database")
    assert base64.b64decode(secret["data"]["url"]).decode() == url
    env = api_environment(objects)
    assert env["AIDEATOR_DATABASE_URL"] == {
        "secretKeyRef": {"name": secret["metadata"]["name"], "key": "url"}}
    assert url not in str(find(objects, "ConfigMap"))


def test_production_reads_the_database_url_from_the_existing_secret() -> None:
    objects = render(*PRODUCTION)
    assert api_environment(objects)["AIDEATOR_DATABASE_URL"] == {
        "secretKeyRef": {"name": "aideator-database", "key": "url"}}
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]


def test_the_model_key_is_the_api_pods_and_never_in_the_agents_namespace() -> None:
    objects = render("--set", "anthropic.apiKey=sk-test", "--set", "agents.namespace=agents")
    secret = find(objects, "Secret", "aideator-anthropic")
    assert secret["metadata"]["namespace"] == NAMESPACE
    assert base64.b64decode(secret["data"]["api-key"]).decode() == "sk-test"
    env = api_environment(objects)
    assert env["ANTHROPIC_API_KEY"] == {"secretKeyRef": {
        "name": secret["metadata"]["name"], "key": "api-key", "optional": True}}
    assert "ANTHROPIC_BASE_URL" not in env
    assert env["AIDEATOR_KUBE_NAMESPACE"] == "agents"
    assert not [o for o in objects if o["metadata"].get("namespace") == "agents"
                and o["kind"] == "Secret"]
    assert "sk-test" not in str(find(objects, "ConfigMap"))
    # Changing the key rolls the API pod (the Secret's checksum is on the pod template).
    other = render("--set", "anthropic.apiKey=sk-other", "--set", "agents.namespace=agents")
    annotations = [find(o, "Deployment")["spec"]["template"]["metadata"]["annotations"]
                   for o in (objects, other)]
    assert annotations[0]["checksum/database"] != annotations[1]["checksum/database"]


def test_the_codex_and_gemini_keys_are_the_api_pods_from_secrets_like_anthropics() -> None:
    objects = render("--set", "openai.apiKey=sk-openai-test", "--set",
                     "gemini.existingSecret=google-keys", "--set", "gemini.secretKey=gemini",
                     "--set", "gemini.baseUrl=https://gemini-proxy.example.com",
                     "--set", "agents.namespace=agents")
    secret = find(objects, "Secret", "aideator-openai")
    assert secret["metadata"]["namespace"] == NAMESPACE
    assert base64.b64decode(secret["data"]["api-key"]).decode() == "sk-openai-test"
    assert not [o for o in objects if o["kind"] == "Secret"
                and o["metadata"]["name"] in ("aideator-gemini", "google-keys")]
    env = api_environment(objects)
    assert env["OPENAI_API_KEY"] == {"secretKeyRef": {
        "name": "aideator-openai", "key": "api-key", "optional": True}}
    assert env["GEMINI_API_KEY"] == {"secretKeyRef": {
        "name": "google-keys", "key": "gemini", "optional": True}}
    assert env["AIDEATOR_GEMINI_URL"] == "https://gemini-proxy.example.com"
    assert "AIDEATOR_OPENAI_URL" not in env
    assert "sk-openai-test" not in str(find(objects, "ConfigMap"))
    assert not [o for o in objects if o["metadata"].get("namespace") == "agents"
                and o["kind"] == "Secret"]
    # Changing a key rolls the API pod.
    other = render("--set", "openai.apiKey=sk-openai-other", "--set", "agents.namespace=agents")
    annotations = [find(o, "Deployment")["spec"]["template"]["metadata"]["annotations"]
                   for o in (objects, other)]
    assert annotations[0]["checksum/database"] != annotations[1]["checksum/database"]


def test_production_references_the_existing_anthropic_secret() -> None:
    env = api_environment(render(*PRODUCTION))
    assert env["ANTHROPIC_API_KEY"]["secretKeyRef"]["name"] == "anthropic-secret"
    assert env["AIDEATOR_KUBE_NAMESPACE"] == "aideator-agents"
    assert api_environment(render("--set", "anthropic.baseUrl=https://llm.example.com"))[
        "ANTHROPIC_BASE_URL"] == "https://llm.example.com"


def test_agents_reach_the_gateway_at_the_api_service() -> None:
    objects = render()
    service = find(objects, "Service")
    env = api_environment(objects)
    assert env["AIDEATOR_GATEWAY_URL"] == (
        f"http://{service['metadata']['name']}.{NAMESPACE}.svc:"
        f"{service['spec']['ports'][0]['port']}")


def test_ingress_is_sse_friendly() -> None:
    ingress = find(render(*PRODUCTION), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress["spec"]["tls"] == [{"secretName": "aideator-tls",
                                       "hosts": ["aideator.example.com"]}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "aideator", "port": {"name": "http"}}


def test_user_annotations_override_the_sse_defaults() -> None:
    ingress = find(render("--set", "api.ingress.enabled=true", "--set-string",
                          "api.ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/"
                          "proxy-read-timeout=86400"), "Ingress")
    assert ingress["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/proxy-read-timeout"] == "86400"
    assert "host" not in ingress["spec"]["rules"][0]            # no hosts: any host


def test_agents_namespace_objects_follow_agents_namespace() -> None:
    objects = render(*PRODUCTION)
    for kind in ("Role", "RoleBinding", "NetworkPolicy", "ResourceQuota", "LimitRange"):
        assert find(objects, kind)["metadata"]["namespace"] == "aideator-agents", kind
    assert find(objects, "Namespace")["metadata"]["name"] == "aideator-agents"
    for kind in ("Deployment", "Service", "ConfigMap", "ServiceAccount", "Ingress"):
        assert find(objects, kind)["metadata"]["namespace"] == NAMESPACE, kind


def test_quota_and_limit_range_are_on_by_default_and_can_be_turned_off() -> None:
    objects = render()
    quota = find(objects, "ResourceQuota")["spec"]["hard"]
    assert {"pods", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"} <= set(quota)
    limits = find(objects, "LimitRange")["spec"]["limits"][0]
    assert limits["type"] == "Container" and {"default", "defaultRequest", "max"} <= set(limits)
    off = render("--set", "agents.resourceQuota.enabled=false",
                 "--set", "agents.limitRange.enabled=false",
                 "--set", "agents.networkPolicy.enabled=false", "--set", "rbac.create=false",
                 "--set", "tests.enabled=false")
    assert not {"ResourceQuota", "LimitRange", "NetworkPolicy", "Role", "Pod"} & set(kinds(off))


def _egress_peers(policy: dict) -> list[tuple[tuple, dict]]:
    """(sorted (protocol, port) pairs, peer) for every destination the policy allows."""
    out = []
    for rule in policy["egress"]:
        assert rule.get("to"), f"an egress rule without 'to' allows every destination: {rule}"
        assert rule.get("ports"), f"an egress rule without 'ports' allows every port: {rule}"
        ports = tuple(sorted((p["protocol"], p["port"]) for p in rule["ports"]))
        out += [(ports, peer) for peer in rule["to"]]
    return out


def test_agents_may_reach_only_the_gateway_and_the_cluster_dns() -> None:
    objects = render()
    policy = find(objects, "NetworkPolicy")["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app": "aideator-agent"}}
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert policy["ingress"] == []
    api = find(objects, "Deployment")["spec"]["template"]
    api_port = {p["name"]: p["containerPort"] for p in api["spec"]["containers"][0]["ports"]}
    assert _egress_peers(policy) == [
        # The API pods (same namespace: no namespaceSelector), on the port the gateway's
        # Service forwards to.
        ((("TCP", api_port["http"]),), {"podSelector": {"matchLabels": {
            k: v for k, v in api["metadata"]["labels"].items()
            if k.startswith("app.kubernetes.io/")}}}),
        # The cluster DNS pods, on 53 only.
        ((("TCP", 53), ("UDP", 53)), {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}),
    ]
    # No address block anywhere: nothing outside the cluster, no metadata service.
    assert "ipBlock" not in str(policy)


def test_agents_in_their_own_namespace_reach_the_api_in_the_release_namespace() -> None:
    policy = find(render(*PRODUCTION), "NetworkPolicy")["spec"]
    gateway = _egress_peers(policy)[0][1]
    assert gateway["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}
    assert gateway["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert len(_egress_peers(policy)) == 2


def test_the_agents_namespace_enforces_the_restricted_pod_security_standard() -> None:
    labels = find(render(*PRODUCTION), "Namespace")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert "Namespace" not in kinds(render())             # the release namespace: not ours
    for bad in (("--set", "agents.createNamespace=true"),
                ("--set", "agents.createNamespace=true", "--set", f"agents.namespace={NAMESPACE}")):
        failed = helm("template", "aideator", "chart", "--namespace", NAMESPACE, *bad,
                      check=False)
        assert failed.returncode != 0 and "agents.createNamespace needs" in failed.stderr


def test_the_release_pods_also_pass_the_restricted_standard() -> None:
    """Agents may share the release namespace; labelling it restricted must not lock the API
    (or the helm test pod) out."""
    objects = render()
    for pod in (find(objects, "Deployment")["spec"]["template"]["spec"],
                find(objects, "Pod")["spec"]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod)
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_runtime_class_reaches_the_service() -> None:
    assert api_environment(render())["AIDEATOR_AGENT_RUNTIME_CLASS"] == ""
    env = api_environment(render("--set", "agents.runtimeClassName=gvisor"))
    assert load_settings({k: v for k, v in env.items() if isinstance(v, str)}
                         ).agent_runtime_class == "gvisor"


def test_helm_test_hook_calls_health_through_the_service() -> None:
    objects = render()
    pod = find(objects, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    service = find(objects, "Service")
    url = pod["spec"]["containers"][0]["command"][-1]
    assert url == (f"http://{service['metadata']['name']}.{NAMESPACE}.svc:"
                   f"{service['spec']['ports'][0]['port']}/api/v1/health")
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_service_selects_the_api_pod() -> None:
    objects = render()
    selector = find(objects, "Service")["spec"]["selector"]
    labels = find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert find(objects, "Deployment")["spec"]["selector"]["matchLabels"] == selector


def test_notes_say_how_to_reach_the_api_and_stream_a_run() -> None:
    notes = helm("install", "aideator", "chart", "--dry-run=client", "--namespace",
                 NAMESPACE).stdout.split("NOTES:", 1)[1]
    assert "port-forward service/aideator 8000:8000" in notes
    assert "curl -N -H \"Authorization: Bearer $TOKEN\" $AIDEATOR/api/v1/runs/$RUN/stream" in notes
    assert "create secret generic aideator-anthropic" in notes      # no key given
    prod = helm("install", "aideator", "chart", "--dry-run=client", "--namespace", NAMESPACE,
                *PRODUCTION).stdout.split("NOTES:", 1)[1]
    assert "export AIDEATOR=https://aideator.example.com" in prod
    assert "create secret" not in prod


def test_dev_values_reload_code_on_a_writable_root() -> None:
    container = find(render(*DEV), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "--reload" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is False
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert DEFAULT == ()


def test_the_agent_image_can_be_pinned_by_digest() -> None:
    digest = "sha256:" + "ab12" * 16
    env = api_environment(render("--set", f"agents.image.digest={digest}",
                                 "--set", "agents.image.tag=moving"))
    assert env["AIDEATOR_AGENT_IMAGE"] == f"aideator-agent@{digest}"
    assert api_environment(render())["AIDEATOR_AGENT_IMAGE"] == "aideator-agent:2.0.0"
    result = helm("template", RELEASE, str(CHART), "--set", "agents.image.digest=latest",
                  check=False)
    assert result.returncode != 0 and "schema" in result.stderr.lower()
