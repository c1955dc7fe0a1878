"""Stopping and resuming: preemption signals, checkpoint files, mid-epoch resume."""
