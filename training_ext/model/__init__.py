"""``SAM2Train`` variants and the training loss."""
