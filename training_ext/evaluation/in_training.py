"""VOS validation inside training: predict the val videos with the current weights, score them.

Configured as ``trainer.vos_validation`` (see ``sam2_configs/validation/``); the Trainer runs it
where the stock trainer would run its val phase (every ``trainer.val_epoch_freq`` epochs and after
the last one, with ``trainer.mode: train``). It needs no ``data.val`` and no meters, so the stock
val-key check has nothing to trip on. Per epoch it writes
``<run>/validation/epoch_<N>/{predictions/, per_video.csv, ...}``, appends the summary to
``<run>/validation/scores.csv``, and the Trainer logs it to TensorBoard and keeps
``checkpoints/best.pt`` (the checkpoint of the best ``J&F`` so far).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from training_ext.data.masks_io import write_palette_mask
from training_ext.evaluation.inference import dataset_videos, predict_video
from training_ext.evaluation.predictors import build_predictor
from training_ext.evaluation.score import score_folders, write_scores

BEST_METRIC = "J&F"
COUNT_KEYS = ("videos", "objects", "frames")


@dataclass
class VOSValidation:
    """Predict-and-score of ``file_list_txt`` videos of a DAVIS-layout ``data_root``."""

    data_root: str
    file_list_txt: str | None = None
    prompt: str = "mask"
    prompt_frame: str = "first"
    score_mode: str = "davis"
    # e.g. {name: rcms}, checked by the launch check; None: the stock predictor
    memory_policy: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        self.videos = dataset_videos(
            Path(self.data_root), Path(self.file_list_txt) if self.file_list_txt else None
        )
        self._predictor = None

    def evaluate(
        self, model: torch.nn.Module, model_conf: DictConfig, epoch: int, out_root: Path
    ) -> dict[str, float]:
        """Scores of ``model``'s current weights; files under ``out_root/epoch_<epoch>``."""
        if self._predictor is None:
            self._predictor = build_predictor(
                model_conf, None, next(model.parameters()).device, self.memory_policy
            )
        self._predictor.load_state_dict(model.state_dict())
        epoch_dir = out_root / f"epoch_{epoch:03d}"
        shutil.rmtree(epoch_dir, ignore_errors=True)
        predictions = epoch_dir / "predictions"
        for video in tqdm(self.videos, desc=f"validate epoch {epoch}", unit="video"):
            (predictions / video.name).mkdir(parents=True)
            for frame_name, ids in predict_video(
                self._predictor, video, self.prompt, self.prompt_frame
            ):
                write_palette_mask(predictions / video.name / f"{frame_name}.png", ids)
        result = score_folders(
            Path(self.data_root) / "Annotations",
            predictions,
            mode=self.score_mode,
            videos=[video.name for video in self.videos],
        )
        write_scores(result, epoch_dir)
        summary = {
            key: float(value)
            for key, value in result.summary.items()
            if key not in COUNT_KEYS and isinstance(value, int | float)
        }
        row = pd.DataFrame([{"epoch": epoch, **summary}])
        table = out_root / "scores.csv"
        row.to_csv(table, mode="a", header=not table.exists(), index=False)
        return summary
