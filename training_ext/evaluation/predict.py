"""Predicting a whole dataset: videos spread over worker processes, palette PNGs out.

Each worker builds the predictor once. On CPU the cores are split between workers; with GPUs,
worker k uses GPU k mod (number of GPUs). The output folder is written under a temporary name
and renamed when every video is done, so a failed run leaves no half-written predictions.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from training_ext.data.masks_io import write_palette_mask
from training_ext.devices import available_cores
from training_ext.errors import UserError
from training_ext.evaluation.inference import VideoPaths, predict_video
from training_ext.staged_write import staged_folder


@dataclass(frozen=True)
class PredictionJob:
    """What every worker needs: the model (as its training config) and how to prompt."""

    training_model: dict
    checkpoint: Path | None
    prompt: str = "mask"
    prompt_frame: str = "first"
    device: str = "auto"
    memory_policy: dict | None = None  # {name: ..., parameters}; None: the stock predictor


_worker: dict = {}


def _start_worker(job: PredictionJob, processes: int) -> None:
    from training_ext.evaluation.predictors import build_predictor

    device = job.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        identity = multiprocessing.current_process()._identity  # (k,) inside a pool, () outside
        device = f"cuda:{(identity[0] - 1 if identity else 0) % torch.cuda.device_count()}"
    else:
        torch.set_num_threads(max(1, available_cores() // processes))
    model = OmegaConf.create(job.training_model)
    if job.checkpoint is None:
        torch.manual_seed(0)  # the same random-init model in every worker and run
    _worker["predictor"] = build_predictor(model, job.checkpoint, device, job.memory_policy)
    _worker["job"] = job


def _predict_one(video: VideoPaths, out_root: Path) -> list[dict]:
    """Write the video's masks; return its tracked-frame rows."""
    job: PredictionJob = _worker["job"]
    out_dir = out_root / video.name
    out_dir.mkdir(parents=True, exist_ok=True)
    tracked: list[dict] = []
    frames = predict_video(_worker["predictor"], video, job.prompt, job.prompt_frame, tracked)
    for frame_name, ids in frames:
        write_palette_mask(out_dir / f"{frame_name}.png", ids)
    return tracked


def predict_dataset(
    training_model: DictConfig,
    checkpoint: Path | None,
    videos: list[VideoPaths],
    out_dir: Path,
    *,
    prompt: str = "mask",
    prompt_frame: str = "first",
    processes: int = 1,
    device: str = "auto",
    memory_policy: dict | None = None,
) -> pd.DataFrame:
    """Write ``out_dir/<video>/<frame>.png`` for every video. Returns one row per object and
    tracked frame (empty without a memory policy; see ``tracking_report``)."""
    if out_dir.exists():
        raise UserError(f"output folder {out_dir} already exists: remove it or choose another")
    job = PredictionJob(
        OmegaConf.to_container(training_model, resolve=True),
        checkpoint,
        prompt,
        prompt_frame,
        device,
        memory_policy,
    )
    # Build the model here first: a checkpoint that does not fit fails before any work starts.
    _start_worker(job, processes)
    if processes > 1:
        _worker.clear()
    tracked: list[dict] = []
    with (
        staged_folder(out_dir) as staging,
        tqdm(total=len(videos), desc="predict", unit="video") as bar,
    ):
        if processes <= 1:
            for video in videos:
                tracked += _predict_one(video, staging)
                bar.update()
        else:
            with ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(job, processes),
            ) as pool:
                for future in as_completed(pool.submit(_predict_one, v, staging) for v in videos):
                    tracked += future.result()
                    bar.update()
    table = pd.DataFrame(tracked)
    return table.sort_values(["video", "object", "frame"]) if tracked else table
