"""The I/O borders, one library or system facility each: tmux (libtmux), the state database
(sqlite3), the watched files (watchdog), the workspace lock, the state folder, processes."""
