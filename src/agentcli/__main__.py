"""``python -m agentcli``: the same as the ``agentcli`` command."""

from agentcli.cli.entry import main

if __name__ == "__main__":
    main()
