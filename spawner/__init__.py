"""Tenant workspace spawners (local sandbox, Docker, Kubernetes) and their pure policy builders."""
