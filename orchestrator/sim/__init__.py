"""The simulated world: an agent that behaves like the real TUIs where it matters."""
