"""agentcli's benchmarks (not shipped with the package). See benchmarks/README.md."""
