"""The stock trainer, subclassed: any device, gradient accumulation, trainable modules, memory
meter."""
