"""Run model code on fake CPU tensors with the memory behaviour of CUDA kernels.

Fake CUDA tensors do not work for training (the autograd engine needs a real device in
backward), so the step runs on fake CPU tensors, and the two places where CPU kernels keep
different tensors than CUDA ones are replaced:

- attention: ``F.scaled_dot_product_attention`` with dropout falls back on CPU to the math kernel,
  which materialises the attention matrix; CUDA runs the flash kernel (saves output and
  log-sum-exp). Here every call runs ``aten._scaled_dot_product_flash_attention``.
- mixed precision: CPU autocast leaves layer norms, softmax, sums, pow/exp/log, interpolation and
  losses in low precision; CUDA autocast computes them in fp32 (so their outputs, often saved for
  backward, are twice as large). CPU autocast supplies the low-precision casts (linear, conv,
  matmul); this mode adds CUDA's fp32 ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

# CUDA autocast casts the inputs of these to fp32 (aten/src/ATen/autocast_mode.cpp, "fp32")
CAST_TO_FP32 = frozenset(
    {
        F.layer_norm,
        F.group_norm,
        F.interpolate,
        F.softplus,
        F.binary_cross_entropy_with_logits,
        F.mse_loss,
        F.l1_loss,
        F.smooth_l1_loss,
        F.cosine_similarity,
        torch.layer_norm,
        torch.group_norm,
        torch.pow,
        torch.Tensor.pow,
        torch.Tensor.__pow__,
        torch.exp,
        torch.Tensor.exp,
        torch.log,
        torch.Tensor.log,
        torch.log1p,
        torch.Tensor.log1p,
        torch.rsqrt,
        torch.Tensor.rsqrt,
        torch.reciprocal,
        torch.Tensor.reciprocal,
        torch.norm,
        torch.Tensor.norm,
        torch.logsumexp,
        torch.cdist,
    }
)
# ... and runs these with an fp32 output dtype ("fp32_set_opt_dtype")
FP32_OUTPUT = frozenset(
    {
        torch.sum,
        torch.Tensor.sum,
        torch.softmax,
        torch.Tensor.softmax,
        F.softmax,
        torch.log_softmax,
        torch.Tensor.log_softmax,
        F.log_softmax,
        torch.cumsum,
        torch.Tensor.cumsum,
        torch.prod,
        torch.Tensor.prod,
    }
)
LOW_PRECISION = (torch.float16, torch.bfloat16)


class CudaKernels(TorchFunctionMode):
    """Flash attention everywhere; with ``amp_dtype``, CUDA autocast's fp32 ops too."""

    def __init__(self, amp_dtype: torch.dtype | None) -> None:
        super().__init__()
        self.amp_dtype = amp_dtype

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            return self._flash_attention(*args, **kwargs)
        if self.amp_dtype is not None:
            if func in CAST_TO_FP32:
                args = tuple(_to_fp32(value) for value in args)
            elif func in FP32_OUTPUT and _is_low_precision(args[0]) and "dtype" not in kwargs:
                kwargs = {**kwargs, "dtype": torch.float32}
        return func(*args, **kwargs)

    def _flash_attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        dropout_p: float = 0.0,
        is_causal: bool = False,
        scale: float | None = None,
        **_: object,
    ) -> torch.Tensor:
        if self.amp_dtype is not None:  # autocast runs attention in low precision
            query, key, value = (t.to(self.amp_dtype) for t in (query, key, value))
        flash = torch.ops.aten._scaled_dot_product_flash_attention
        return flash(query, key, value, dropout_p, is_causal, scale=scale)[0]


def _is_low_precision(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype in LOW_PRECISION


def _to_fp32(value: object) -> object:
    return value.float() if _is_low_precision(value) else value


@contextlib.contextmanager
def cuda_like_step(amp_dtype: torch.dtype | None) -> Iterator[None]:
    """Autocast (if ``amp_dtype``) plus CUDA's attention and fp32 ops, for fake CPU tensors."""
    with contextlib.ExitStack() as stack:
        if amp_dtype is not None:
            stack.enter_context(torch.autocast("cpu", dtype=amp_dtype))
        stack.enter_context(CudaKernels(amp_dtype))
        yield
