"""Training controls of our Trainer and configs: trainable modules, gradient accumulation,
early stopping, the temporal-consistency loss and click prompts."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_command, train_demo
from hydra.utils import instantiate

from training_ext.config import compose_config, initialize_hydra
from training_ext.model.losses import MultiStepMultiMasksIousAndTemporal, temporal_consistency
from training_ext.model.prompted import ClickPromptSAM2Train

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset

MEMORY_MODULES = ("memory_attention", "memory_encoder")
TESTS = Path(__file__).parent


def initial_demo_model(*overrides: str) -> torch.nn.Module:
    """The model the demo Trainer builds before training: seeded by the stock set_seeds."""
    initialize_hydra()
    cfg = compose_config("demo_scratch", list(overrides))
    torch.manual_seed(cfg.trainer.seed_value * 1)  # (seed + rank 0) * max_epochs (1 epoch)
    return instantiate(cfg.trainer.model, _convert_="all")


def test_trainable_modules_freeze_the_rest(synthetic_root: Path, tmp_path: Path) -> None:
    """Only memory modules change; the optimizer holds state for them alone. Click prompts
    with negatives and a centre click run through the same training."""
    prompt = [
        "prompt=point",
        "trainer.model.num_negative_points=2",
        "trainer.model.center_point=true",
    ]
    checkpoint = train_demo(
        synthetic_root,
        tmp_path / "run",
        "trainer.trainable_modules=[memory_attention,memory_encoder]",
        *prompt,
    )
    initial = initial_demo_model(*prompt).state_dict()
    trained = checkpoint["model"]
    for name, value in trained.items():
        frozen = not name.startswith(MEMORY_MODULES)
        assert torch.equal(value, initial[name]) == frozen, name
    trainable = [
        n for n, p in initial_demo_model().named_parameters() if n.startswith(MEMORY_MODULES)
    ]
    assert len(checkpoint["optimizer"]["state"]) == len(trainable)
    log = (tmp_path / "run" / "logs" / "log.txt").read_text()
    assert "trainable_modules ['memory_attention', 'memory_encoder']:" in log


@pytest.mark.parametrize(
    "override",
    [
        "trainer.accumulate_grad_batches=0",
        "trainer.save_every_steps=-5",
        "trainer.save_every_steps=abc",
        "trainer.early_stopping_patience=1.5",
    ],
)
def test_step_count_options_must_be_whole_numbers(synthetic_root: Path, override: str) -> None:
    key = override.split("=")[0]
    result = run_command(
        "sam2-train", "--check", "-c", "demo_scratch", f"dataset.root={synthetic_root}", override
    )
    assert_one_line_error(result, f"{key}=", "is not a whole number >= 1")


def test_unknown_trainable_module_is_one_line(synthetic_root: Path) -> None:
    result = run_command(
        "sam2-train",
        "-c",
        "demo_scratch",
        f"dataset.root={synthetic_root}",
        "trainer.trainable_modules=[memory_atention]",
    )
    assert_one_line_error(result, "unknown module 'memory_atention'", "memory_attention")


NO_RANDOMNESS_IN_THE_MODEL = [
    "prompt=mask",
    "scratch.max_num_objects=1",  # the stock loss normalises by objects per batch
    "dataset.multiplier=1",
    "trainer.model.num_init_cond_frames_for_train=1",
    "trainer.model.memory_attention.layer.dropout=0",
    "trainer.model.memory_attention.layer.self_attention.dropout=0",
    "trainer.model.memory_attention.layer.cross_attention.dropout=0",
    "trainer.optim.gradient_clip.max_norm=null",
    "validation=none",
]


def test_accumulating_4_batches_of_1_equals_1_batch_of_4(synthetic_root: Path, tmp_path: Path):
    env = {"PYTHONPATH": str(TESTS)}
    gradients = {}
    for name, batch, accumulate in (("batch4", 4, 1), ("accumulated", 1, 4)):
        dump = tmp_path / f"{name}.pt"
        train_demo(
            synthetic_root,
            tmp_path / name,
            *NO_RANDOMNESS_IN_THE_MODEL,
            f"scratch.train_batch_size={batch}",
            f"trainer.accumulate_grad_batches={accumulate}",
            "+trainer.optim.gradient_logger._target_=gradient_dump.SaveFirstGradients",
            f"+trainer.optim.gradient_logger.path={dump}",
            env=env,
        )
        gradients[name] = torch.load(dump)
    assert gradients["batch4"].keys() == gradients["accumulated"].keys()
    worst = max(
        (gradients["batch4"][k] - gradients["accumulated"][k]).abs().max().item()
        for k in gradients["batch4"]
    )
    assert worst <= 1e-5, worst
    assert any(g.abs().max() > 1e-4 for g in gradients["batch4"].values())


def test_early_stopping_on_validation(synthetic_root: Path, tmp_path: Path) -> None:
    """With learning rate 0, J&F never improves: patience 1 stops after the second validation."""
    checkpoint = train_demo(
        synthetic_root,
        tmp_path / "run",
        "scratch.num_epochs=5",
        "trainer.val_epoch_freq=1",
        "trainer.early_stopping_patience=1",
        "scratch.base_lr=0",
        "scratch.vision_lr=0",
    )
    assert checkpoint["epoch"] == 2
    log = (tmp_path / "run" / "logs" / "log.txt").read_text()
    assert "Early stopping: stopping training after epoch 1" in log
    scores = (tmp_path / "run" / "logs" / "validation" / "scores.csv").read_text().splitlines()
    assert len(scores) == 1 + 2  # header + epochs 0 and 1, validated once each


# ---- the loss and the click sampler, in-process -----------------------------------------------


@pytest.fixture(scope="module")
def model_and_batch(synthetic_root: Path, demo_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """The trained tiny model and one real training batch. (A random-init model predicts "no
    object" everywhere, and SAM2 then outputs constant masks that pass no gradient.) The stock
    loader needs a process group."""
    store = tmp_path_factory.mktemp("dist") / "store"
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{store}", rank=0, world_size=1
    )
    initialize_hydra()
    cfg = compose_config("demo_scratch", [f"dataset.root={synthetic_root}", "prompt=mask"])
    torch.manual_seed(0)
    model = instantiate(cfg.trainer.model, _convert_="all").train()
    checkpoint = torch.load(demo_run / "checkpoints" / "checkpoint.pt", map_location="cpu")
    model.load_state_dict(checkpoint["model"])
    loader = instantiate(cfg.trainer.data.train).get_loader(epoch=0)
    yield model, next(iter(loader))
    torch.distributed.destroy_process_group()


STOCK_LOSS_ARGUMENTS = {  # as in sam2_configs/base/trainer.yaml
    "supervise_all_iou": True,
    "iou_use_l1_loss": True,
    "pred_obj_scores": True,
    "focal_gamma_obj_score": 0.0,
    "focal_alpha_obj_score": -1.0,
}
WEIGHTS = {"loss_mask": 20, "loss_dice": 1, "loss_iou": 1, "loss_class": 1}


def loss_of(weight: float) -> MultiStepMultiMasksIousAndTemporal:
    return MultiStepMultiMasksIousAndTemporal(
        weight_dict=dict(WEIGHTS), temporal_weight=weight, **STOCK_LOSS_ARGUMENTS
    )


def test_temporal_weight_zero_is_the_stock_loss(model_and_batch) -> None:
    from training.loss_fns import MultiStepMultiMasksAndIous

    model, batch = model_and_batch
    with torch.no_grad():
        outputs = model(batch)
    stock = MultiStepMultiMasksAndIous(weight_dict=dict(WEIGHTS), **STOCK_LOSS_ARGUMENTS)(
        outputs, batch.masks
    )
    ours = loss_of(0.0)(outputs, batch.masks)
    assert ours.keys() == stock.keys()
    assert all(torch.equal(torch.as_tensor(ours[k]), torch.as_tensor(stock[k])) for k in stock)
    with_term = loss_of(0.1)(outputs, batch.masks)
    expected = stock["core_loss"] + 0.1 * temporal_consistency(outputs, batch.masks)
    assert torch.allclose(with_term["core_loss"], expected)


def test_temporal_gradient_reaches_the_memory_modules(model_and_batch) -> None:
    model, batch = model_and_batch
    model.zero_grad(set_to_none=True)
    temporal_consistency(model(batch), batch.masks).backward()
    for module in MEMORY_MODULES:
        grads = [p.grad for p in getattr(model, module).parameters() if p.grad is not None]
        assert grads and max(g.abs().max().item() for g in grads) > 0, module


def test_temporal_consistency_by_hand() -> None:
    """Two frames, one object: the truth is unchanged on 3 of 4 pixels, the prediction moves
    from 0.5 to sigmoid(2) on one of those: L = |sigmoid(2) - 0.5| / 3."""
    targets = torch.tensor([[[[1, 0], [0, 0]]], [[[1, 1], [0, 0]]]], dtype=torch.float)
    logits = [torch.zeros(1, 1, 2, 2), torch.tensor([[[[0.0, 5.0], [2.0, 0.0]]]])]
    outs = [{"pred_masks_high_res": x} for x in logits]
    expected = (torch.sigmoid(torch.tensor(2.0)) - 0.5) / 3
    assert torch.isclose(temporal_consistency(outs, targets), expected)


def test_click_prompts_centre_positives_and_negatives() -> None:
    gt = torch.zeros(2, 1, 32, 32, dtype=torch.bool)
    gt[0, 0, 4:12, 6:20] = True
    gt[1, 0, 20:30, 10:16] = True
    sampler = ClickPromptSAM2Train.__new__(ClickPromptSAM2Train)
    sampler.num_positive_points, sampler.num_negative_points, sampler.center_point = 3, 2, True
    points, labels = sampler.initial_clicks(gt)
    assert points.shape == (2, 5, 2) and labels.tolist() == [[1, 1, 1, 0, 0]] * 2
    for b in range(2):
        inside = [bool(gt[b, 0, int(y), int(x)]) for x, y in points[b].tolist()]
        assert inside == [True, True, True, False, False]
    # The centre click is a pixel farthest from the mask boundary.
    for b in range(2):
        inside = cv2.distanceTransform(np.pad(gt[b, 0].numpy(), 1).astype(np.uint8), cv2.DIST_L2, 5)
        x, y = (int(v) for v in points[b, 0].tolist())
        assert inside[y + 1, x + 1] == inside.max()
