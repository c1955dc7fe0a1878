"""Scaffolding for parity tests and benchmarks against the unmodified stock trainer."""
