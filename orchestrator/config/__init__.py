"""The border where files become values: orchestrate.yaml and the queue files read with their
line numbers (yamlsrc.py), checked by pydantic models with FILE:LINE problems (models.py;
how durations, priorities and ids are written: notation.py), read into frozen settings and
tasks (settings.py), and checked across files and merged with the last good version of each
(queueset.py)."""
