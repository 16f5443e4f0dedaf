"""Small helpers the fake-server tests share: reading streams and errors of the real client."""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

# Kubelet log timestamps: RFC3339Nano with a fixed 9-digit fraction, then one space.
TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$")


def status_of(error: ApiException) -> dict[str, Any]:
    """The Status object the server sent with an error."""
    return json.loads(error.body)


def lines(response: Any) -> Iterator[str]:
    """Lines of a raw (``_preload_content=False``) streaming response."""
    try:
        yield from iter_resp_lines(response)
    finally:
        response.release_conn()


def log_request(api_client: kubernetes.client.ApiClient, namespace: str, pod: str,
                **query: Any) -> Any:
    """GET pods/log with any query, e.g. ``sinceTime`` (the typed client lacks it).

    This is how a client resumes a log by time: ``CoreV1Api.read_namespaced_pod_log`` only
    offers ``since_seconds``. Returns the raw urllib3 response; raises ApiException >= 400.
    """
    request = api_client.param_serialize(
        method="GET", resource_path="/api/v1/namespaces/{namespace}/pods/{name}/log",
        path_params={"namespace": namespace, "name": pod}, query_params=list(query.items()),
        header_params={"Accept": "*/*"}, auth_settings=["BearerToken"])
    response = api_client.call_api(*request)
    if not 200 <= response.status <= 299:
        response.read()
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    return response.response
