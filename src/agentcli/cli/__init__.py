"""The ``agentcli`` command: a thin client of the public API (entry point: ``entry.main``)."""
