"""What people see: the snapshot of the state, its rows, and how they are drawn (a live
dashboard, plain lines, a report)."""
