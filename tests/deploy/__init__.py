"""Checks of the deployment files in deploy/ (offline: no Docker, no cluster, no network)."""
