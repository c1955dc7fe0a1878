"""What a run folder holds after training: TensorBoard scalars, the loss curve."""
