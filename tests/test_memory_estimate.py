"""`sam2-train --estimate-memory` / `--gpu-memory`: one training step on fake tensors.

The pieces are checked against hand counts (tracker, attention kernels, autocast dtypes); the
whole estimate against the shapes of the real configs (bigger models and frozen encoders order
as they must) and as a user types it (the report, the refusal in one line).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_one_line_error, check_ok, run_command
from torch._subclasses.fake_tensor import FakeTensorMode

from training_ext.config import compose_config, initialize_hydra
from training_ext.memory_estimate.estimate import (
    estimate_training_memory,
    measure_training_memory,
)
from training_ext.memory_estimate.gpu_kernels import cuda_like_step
from training_ext.memory_estimate.report import GiB, gpu_memory_bytes
from training_ext.memory_estimate.tracker import (
    ACTIVATIONS,
    OPTIMIZER,
    PARAMETERS,
    MemoryTracker,
)


def test_tracker_counts_live_storages_in_allocator_blocks():
    with FakeTensorMode(), MemoryTracker() as tracker:
        first = torch.empty(1000)  # 4,000 bytes: one 4,096-byte block
        second = torch.empty(10, 10)  # 400 bytes: 512
        view = first[:10]  # no new storage
        assert tracker.live_total() == 4096 + 512
        del first, view
        third = second * 2  # 512
        assert tracker.live_total() == 512 + 512
    assert tracker.peak.total == 4096 + 512 + 512 or tracker.peak.total == 4096 + 512
    assert third.shape == second.shape


def _attention_peak(emulate_cuda: bool) -> int:
    tokens, dim = 1024, 64
    with FakeTensorMode():
        q, k, v = (torch.empty(1, 1, tokens, dim, requires_grad=True) for _ in range(3))
        with MemoryTracker() as tracker:
            if emulate_cuda:
                with cuda_like_step(None):
                    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.1)
            else:
                out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.1)
            assert out.shape == q.shape
    return tracker.peak.total


def test_attention_keeps_no_attention_matrix_as_on_cuda():
    matrix = 1024 * 1024 * 4
    assert _attention_peak(emulate_cuda=False) > matrix  # CPU: math kernel with dropout
    assert _attention_peak(emulate_cuda=True) < matrix / 4  # flash: output + log-sum-exp


def test_autocast_follows_cuda_dtypes():
    with FakeTensorMode():
        x = torch.empty(4, 16)
        weight = torch.empty(16, 16)
        with cuda_like_step(torch.bfloat16):
            hidden = F.linear(x, weight)
            normed = F.layer_norm(hidden, (16,))
            upsampled = F.interpolate(hidden[None, None], scale_factor=2.0, mode="bilinear")
            total = hidden.sum()
            squared = hidden**2
    assert hidden.dtype == torch.bfloat16  # low precision on CUDA and CPU
    assert normed.dtype == upsampled.dtype == total.dtype == squared.dtype == torch.float32


@pytest.fixture(scope="module")
def configs():
    initialize_hydra()
    return lambda name, *overrides: compose_config(name, list(overrides))


def test_demo_estimate_adds_up(configs):
    estimate = estimate_training_memory(configs("demo"))
    step = estimate.worst
    assert [s.prompting for s in estimate.steps] == ["mask prompts"]  # demo: prompt=mask
    parameter_bytes = 4 * estimate.parameters
    assert parameter_bytes <= step.peak.by_category[PARAMETERS] < 1.2 * parameter_bytes
    adam_bytes = 2 * 4 * estimate.trainable_parameters  # exp_avg, exp_avg_sq
    assert adam_bytes <= step.peak.by_category[OPTIMIZER] < 1.2 * adam_bytes
    assert step.peak.by_category[ACTIVATIONS] > step.peak.total / 2
    assert set(step.activations_by_module) >= {"image_encoder", "memory_attention"}


def test_fake_step_counts_what_the_real_step_allocates(configs):
    """Same config, fp32 and CPU kernels: fake tensors and a real CPU step hold the same bytes."""
    cfg = configs("demo", "trainer.model.image_size=64", "scratch.num_frames=3")
    fake = estimate_training_memory(cfg, kernels="cpu").worst.peak
    real = measure_training_memory(cfg).worst.peak
    assert fake.total == real.total and fake.by_category == real.by_category


@pytest.mark.slow
def test_sizes_and_frozen_modules_order(configs):
    one_frame = ["trainer.model.image_size=256", "scratch.num_frames=1"]  # one prompt draw each
    totals = [
        estimate_training_memory(
            configs(f"sam2.1_hiera_{size}_finetune", *one_frame)
        ).worst.peak.total
        for size in ("t", "s", "b+", "l")
    ]
    assert totals == sorted(totals) and len(set(totals)) == 4, totals
    clip = ["trainer.model.image_size=256", "scratch.num_frames=2"]
    full = estimate_training_memory(configs("sam2.1_hiera_t_finetune", *clip))
    assert sorted(s.prompting for s in full.steps) == [
        "clicks, corrected on 2 frame(s)",
        "mask prompts",
    ]  # the stock prompt mix draws both
    frozen = estimate_training_memory(
        configs("sam2.1_hiera_t_finetune", *clip, "recipe=memory_finetune")
    )
    assert frozen.trainable_parameters < full.trainable_parameters
    assert frozen.worst.peak.total < full.worst.peak.total


def test_gpu_memory_sizes():
    assert gpu_memory_bytes("80GB") == gpu_memory_bytes("80") == 80 * GiB
    assert gpu_memory_bytes("24 GiB") == 24 * GiB


@pytest.mark.slow
def test_estimate_memory_as_typed():
    result = check_ok(
        run_command("sam2-train", "-c", "demo", "--estimate-memory", "--gpu-memory", "80GB")
    )
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("sam2-train: demo fits: ~")
    assert "estimated peak GPU memory of a training step" in lines[0]
    assert any("256 px, 6 frames, 3 objects" in line for line in lines)
    assert any(line.strip().startswith("approximated:") for line in lines)


@pytest.mark.slow
def test_check_refuses_a_config_that_does_not_fit(synthetic_root):
    check = ["-c", "demo", "--check", f"dataset.root={synthetic_root}"]
    result = run_command("sam2-train", *check, env={"SAM2_GPU_MEMORY": "0.01"})
    assert_one_line_error(result, "demo needs ~", "more than --gpu-memory", "biggest lever")


@pytest.mark.parametrize("size", ["lots", "-3GB", "auto"])
def test_bad_gpu_memory_is_one_line(size):
    if size == "auto" and torch.cuda.is_available():
        pytest.skip("a GPU is visible: auto is valid here")
    result = run_command("sam2-train", "-c", "demo", "--estimate-memory", "--gpu-memory", size)
    assert_one_line_error(result, "--gpu-memory")
