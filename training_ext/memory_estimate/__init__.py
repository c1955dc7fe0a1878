"""Peak GPU memory of one training step of a config, estimated without a GPU.

The real model code runs one full step (forward, the stock loss, backward, gradient clipping, the
optimizer step) on fake tensors: shapes and dtypes, no data. What the CUDA kernels would keep is
reproduced on the fake CPU tensors (``gpu_kernels``), and a dispatch-level tracker adds up the
bytes of every live storage (``tracker``). ``estimate.estimate_training_memory`` is the entry.
"""
