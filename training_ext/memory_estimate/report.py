"""The estimate as a few printed lines, GPU sizes as users write them, and the fit verdict."""

from __future__ import annotations

import re

import torch

from training_ext.errors import UserError
from training_ext.memory_estimate.estimate import MemoryEstimate
from training_ext.memory_estimate.tracker import ACTIVATIONS

GiB = 2**30
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(g|gb|gib)?\s*$", re.IGNORECASE)
NOT_COUNTED = (
    "the CUDA context (~0.5 GiB), the caching allocator's reserve and fragmentation, "
    "cuDNN/cuBLAS workspaces"
)


def gpu_memory_bytes(text: str) -> int:
    """``80GB``, ``80``, ``24GiB`` (binary, like nvidia-smi) or ``auto`` (this machine's GPU 0)."""
    if text.strip().lower() == "auto":
        if not torch.cuda.is_available():
            raise UserError(
                "--gpu-memory auto: no GPU is visible here; give the job's GPU size, e.g. "
                "--gpu-memory 80GB"
            )
        return torch.cuda.get_device_properties(0).total_memory
    match = SIZE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise UserError(
            f"--gpu-memory {text!r} is not a size; give GiB per GPU like 80GB, 24GB or auto"
        )
    return int(float(match.group(1)) * GiB)


def describe(config: str, estimate: MemoryEstimate) -> list[str]:
    """What ``sam2-train --estimate-memory`` prints."""
    shapes, worst = estimate.shapes, estimate.worst
    precision = (
        f"{str(shapes.amp_dtype).removeprefix('torch.')} autocast" if shapes.amp_dtype else "fp32"
    )
    draws = "; ".join(f"{step.prompting} {_gib(step.peak.total)}" for step in estimate.steps)
    categories = sorted(worst.peak.by_category.items(), key=lambda item: -item[1])
    modules = sorted(worst.activations_by_module.items(), key=lambda item: -item[1])[:3]
    return [
        f"sam2-train: {config}: estimated peak GPU memory of a training step: "
        f"{_gib(worst.peak.total)} per GPU",
        f"  step: {shapes.resolution} px, {shapes.frames} frames, "
        f"{shapes.objects_per_video} objects x {shapes.videos_per_gpu} clip(s) per GPU, "
        f"{precision}, {estimate.trainable_parameters / 1e6:.1f}M of "
        f"{estimate.parameters / 1e6:.1f}M parameters trained",
        f"  prompt draws: {draws} (the larger counts)",
        f"  at the peak ({worst.peak.phase}): "
        + ", ".join(f"{name} {_gib(size)}" for name, size in categories),
        "  activations kept by: " + ", ".join(f"{name} {_gib(size)}" for name, size in modules),
        f"  approximated: one step on fake CPU tensors with CUDA's flash attention and autocast "
        f"fp32 ops (no GPU used, {estimate.seconds:.0f} s); not counted: {NOT_COUNTED}",
    ]


def check_fits(config: str, estimate: MemoryEstimate, gpu_bytes: int) -> str:
    """One line saying it fits, or a UserError naming the biggest lever."""
    peak = estimate.worst.peak.total
    if peak <= gpu_bytes:
        return f"sam2-train: {config} fits: ~{_gib(peak)} of {_gib(gpu_bytes)} per GPU (estimate)"
    raise UserError(
        f"{config} needs ~{_gib(peak)} per GPU, more than --gpu-memory {_gib(gpu_bytes)}; "
        f"{biggest_lever(estimate)} (or drop --gpu-memory / SAM2_GPU_MEMORY to launch anyway)"
    )


def biggest_lever(estimate: MemoryEstimate) -> str:
    """The change that saves the most, in the words of the config keys."""
    worst, shapes = estimate.worst, estimate.shapes
    activations = worst.peak.by_category.get(ACTIVATIONS, 0)
    if activations < worst.peak.total / 2:
        return (
            "biggest lever: train fewer modules "
            "(trainer.trainable_modules=[memory_attention,memory_encoder])"
        )
    if shapes.videos_per_gpu > 1:
        return (
            "biggest lever: fewer clips per GPU "
            f"(scratch.train_batch_size={shapes.videos_per_gpu} -> 1)"
        )
    module, kept = worst.largest_module
    if module == "image_encoder":
        return (
            f"biggest lever: the image encoder keeps {_gib(kept)} of activations: freeze it "
            "(trainer.trainable_modules without image_encoder) or lower the resolution "
            f"(trainer.model.image_size={shapes.resolution} -> {shapes.resolution // 2 // 32 * 32})"
        )
    return (
        f"biggest lever: {module} keeps {_gib(kept)} of activations: fewer frames per clip "
        f"(scratch.num_frames={shapes.frames} -> {max(1, shapes.frames // 2)})"
    )


def _gib(size: int) -> str:
    return f"{size / GiB:.1f} GiB" if size >= GiB / 10 else f"{size / 2**20:.0f} MiB"
