"""Everything before a rank trains: launch checks, the stock and external launchers, the
run-folder lock, and what a failing rank tells the user."""
