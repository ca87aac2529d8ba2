"""The pure core: the task lifecycle as decisions over state. (state, event, now) -> actions;
`fold` is the only way state changes. The standard library only, besides the board's block
parser and the text helpers (kept so by tests/test_layers.py)."""
