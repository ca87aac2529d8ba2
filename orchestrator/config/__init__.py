"""The border where files become values: orchestrate.yaml and the queue files read with their
line numbers (yamlsrc.py), checked by pydantic models into frozen settings and tasks with
FILE:LINE problems (settings.py), and checked across files and merged with the last good
version of each (queueset.py)."""
