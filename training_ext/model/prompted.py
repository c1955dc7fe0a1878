"""``SAM2Train`` with configurable initial clicks: positives, negatives, a centre click."""

from __future__ import annotations

from typing import Any

import torch
from sam2.modeling.sam2_utils import (
    sample_one_point_from_error_center,
    sample_random_points_from_errors,
)
from sam2.utils.misc import concat_points
from training.model.sam2 import SAM2Train


class ClickPromptSAM2Train(SAM2Train):
    """Where the stock model gives one random positive click on a prompted frame, give
    ``num_positive_points`` positives (the first at the mask centre if ``center_point``: the
    pixel farthest from the mask boundary) and ``num_negative_points`` background clicks.

    Boxes, mask prompts and the correction clicks added while tracking stay stock.
    """

    def __init__(
        self,
        *args: Any,
        num_positive_points: int = 1,
        num_negative_points: int = 0,
        center_point: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if num_positive_points < 1 or num_negative_points < 0:
            raise ValueError("need num_positive_points >= 1 and num_negative_points >= 0")
        self.num_positive_points = num_positive_points
        self.num_negative_points = num_negative_points
        self.center_point = center_point

    def prepare_prompt_inputs(self, backbone_out: dict, input: Any, start_frame_idx: int = 0):
        backbone_out = super().prepare_prompt_inputs(backbone_out, input, start_frame_idx)
        for t, inputs in backbone_out["point_inputs_per_frame"].items():
            if (inputs["point_labels"][:, 0] == 1).all():  # a click, not a box (labels 2, 3)
                gt = backbone_out["gt_masks_per_frame"][t].bool()
                points, labels = self.initial_clicks(gt)
                inputs["point_coords"], inputs["point_labels"] = points, labels
        return backbone_out

    def initial_clicks(self, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clicks for masks ``gt`` [B, 1, H, W]: coordinates [B, P, 2] (x, y), labels [B, P]."""
        clicks = None
        positives = self.num_positive_points
        if self.center_point:
            clicks = concat_points(clicks, *sample_one_point_from_error_center(gt, None))
            positives -= 1
        if positives:
            sampled = sample_random_points_from_errors(gt, None, num_pt=positives)
            clicks = concat_points(clicks, *sampled)
        if self.num_negative_points:
            # The errors of an all-foreground prediction are the background: label-0 clicks.
            sampled = sample_random_points_from_errors(
                gt, torch.ones_like(gt), num_pt=self.num_negative_points
            )
            clicks = concat_points(clicks, *sampled)
        return clicks["point_coords"], clicks["point_labels"]
