"""orchestrate: drive a crew of LLM coding agents in tmux from a YAML queue and a shared board."""

__version__ = "0.1.0"
