"""The command line: `orchestrate` (entry.py: the quick `status` first, then the full CLI of
commands.py, the only typer user, whose commands call the modules beside it), starting,
following and showing daemons (launch.py), stopping and commanding them (control.py), the
commands that only read (readonly.py), the demo, and the commands that write files
(adding.py: `add`; scaffold.py: `init`)."""
