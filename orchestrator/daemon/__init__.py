"""The daemon: the loop and its wiring (loop.py), and the shell around the core: what its
decisions become (executor), the board taken in (intake), deliveries (delivery, sending), the
agents watched (panes, screen, attention, limits), checks, notifications, the journal and what
the daemon shows of itself (publish)."""
