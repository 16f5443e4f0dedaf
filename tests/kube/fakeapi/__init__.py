"""A fake Kubernetes API server (Jobs, pods, logs, events, watches) for the official client.

See :class:`FakeKubeAPI`; the modules behind it each reproduce one part of a cluster:
``store`` (etcd + resourceVersions), ``objects`` (admission), ``jobs`` (Job/GC/TTL
controllers), ``gc`` (ownerReferences of other objects), ``kubelet`` (pods as local
processes, and the scheduler), ``events`` (the components' event recorders), ``logs``,
``watch``, ``handlers`` (HTTP), ``faults`` (fault injection + request recorder).
"""
from .faults import Recorded
from .kubelet import (BEHAVIOUR_ENV, BEHAVIOUR_LABEL, CONTAINER_CREATING, FAILED_MOUNT,
                      IMAGE_PULL_BACKOFF, OOM_KILLED, RUN, UNSCHEDULABLE)
from .server import FakeKubeAPI

__all__ = ["BEHAVIOUR_ENV", "BEHAVIOUR_LABEL", "CONTAINER_CREATING", "FAILED_MOUNT",
           "FakeKubeAPI", "IMAGE_PULL_BACKOFF", "OOM_KILLED", "RUN", "Recorded",
           "UNSCHEDULABLE"]
