"""The Kubernetes runtime, kept together the way kubespawner keeps spawner, objects and
reflector: ``runtime`` (the Runtime itself), ``client`` (the only module importing
``kubernetes``), ``manifests`` with its ``job.yaml`` template, ``rbac`` (the permissions
the chart grants), the watches (``reflector``, ``podwatch``, ``eventwatch``) and the
followers (``variation``, ``podlog``, ``podstatus``, ``reaper``).

Importing this package imports the kubernetes client: ``runtimes.create_runtime`` does it
only when the Kubernetes runtime is configured.
"""
from .runtime import KubernetesRuntime

__all__ = ["KubernetesRuntime"]
