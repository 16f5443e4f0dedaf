"""Kubernetes-facing tests: manifests, RBAC data and the fake API server they run against."""
