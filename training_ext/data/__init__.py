"""Training data: dataset adapters, samplers, bad-frame handling, synthetic videos, mask files."""
