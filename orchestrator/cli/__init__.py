"""The command line: `orchestrate` (entry.py: the quick `status` first, then the full CLI of
commands.py, the only typer user), starting and following daemons (launch.py), the demo, and
the commands that write files (adding.py: `add`; scaffold.py: `init`)."""
