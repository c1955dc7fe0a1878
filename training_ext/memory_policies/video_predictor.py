"""``SAM2VideoPredictor`` with a memory-selection policy; outputs equal the stock ones under
policy ``none``.

Two small overrides of the stock predictor:

- ``_track_step`` keeps the mask decoder's predicted IoUs, which stock tracking discards.
- ``_run_single_frame_inference``, on frames tracked by ``propagate_in_video``: the model attends
  to a *memory view* of the object's banks built from its :class:`ObjectTrack`; afterwards the
  frame's MQF and predicted IoUs are stored in its output and the policy is consulted.

The memory view leaves the stock banks (``output_dict_per_obj``) untouched, so what
``propagate_in_video`` treats as prompts, where the next pass starts, and what later clicks
consolidate stay exactly as in the stock predictor. In the view:

- promoted frames are added to the conditioning frames (temporal position 0; their object
  pointers count as conditioning pointers);
- the recent window stays consistent: the ``num_maskmem - 1`` recent-memory slots (and the
  object-pointer slots) are filled, nearest first, by the previous frames in tracking direction
  that are not excluded (promoted, or not remembered by the policy). A promoted frame therefore
  leaves the recent window without leaving a gap and is never attended twice; frames keep their
  order, and a slot whose frame was never tracked stays empty as in the stock predictor.

Policy state lives in the inference state and is per propagation pass: each
``propagate_in_video`` call (forward or reverse) starts from fresh tracks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor

from training_ext.errors import UserError
from training_ext.memory_policies import make_policy
from training_ext.memory_policies.base import FrameRecord, MemoryPolicy, ObjectTrack
from training_ext.memory_policies.quality import memory_quality

TRACKS_KEY = "memory_policy_tracks"


class MemoryPolicyVideoPredictor(SAM2VideoPredictor):
    """The stock video predictor, consulting ``memory_policy`` on every tracked frame."""

    def __init__(self, memory_policy: Mapping[str, Any] | MemoryPolicy | None = None, **kwargs):
        super().__init__(**kwargs)
        self.memory_policy = make_policy(memory_policy)
        if self.memory_policy.changes_memory and self.memory_temporal_stride_for_eval != 1:
            raise UserError(
                f"memory policy {self.memory_policy.name} needs memory_temporal_stride_for_eval "
                f"= 1, got {self.memory_temporal_stride_for_eval}"
            )
        self._last_predicted_ious: torch.Tensor | None = None

    def _track_step(self, *args, **kwargs):
        current_out, sam_outputs, high_res_features, pix_feat = super()._track_step(*args, **kwargs)
        self._last_predicted_ious = sam_outputs[2]
        return current_out, sam_outputs, high_res_features, pix_feat

    def propagate_in_video_preflight(self, inference_state):
        inference_state[TRACKS_KEY] = {}
        super().propagate_in_video_preflight(inference_state)

    def _reset_tracking_results(self, inference_state):
        inference_state[TRACKS_KEY] = {}
        super()._reset_tracking_results(inference_state)

    def _run_single_frame_inference(
        self,
        inference_state,
        output_dict,
        frame_idx,
        batch_size,
        is_init_cond_frame,
        point_inputs,
        mask_inputs,
        reverse,
        run_mem_encoder,
        prev_sam_mask_logits=None,
    ):
        tracked = (
            not is_init_cond_frame
            and point_inputs is None
            and mask_inputs is None
            and run_mem_encoder
            and batch_size == 1
        )
        track = self._track_of(inference_state, output_dict, reverse) if tracked else None
        memory = output_dict
        if track is not None and track.excluded:
            memory = self._memory_view(output_dict, track, frame_idx, inference_state)
        current_out, pred_masks = super()._run_single_frame_inference(
            inference_state,
            memory,
            frame_idx,
            batch_size,
            is_init_cond_frame,
            point_inputs,
            mask_inputs,
            reverse,
            run_mem_encoder,
            prev_sam_mask_logits,
        )
        if track is not None:
            self._observe(track, frame_idx, current_out)
        return current_out, pred_masks

    def _track_of(self, inference_state, output_dict, reverse: bool) -> ObjectTrack | None:
        """The track of the object whose bank is ``output_dict`` (None outside propagation)."""
        tracks = inference_state.get(TRACKS_KEY)
        if tracks is None:
            return None
        for obj_idx, obj_output_dict in inference_state["output_dict_per_obj"].items():
            if obj_output_dict is output_dict:
                obj_id = inference_state["obj_idx_to_id"][obj_idx]
                return tracks.setdefault(obj_id, ObjectTrack(reverse=reverse))
        return None

    def _observe(self, track: ObjectTrack, frame_idx: int, current_out: dict) -> None:
        """Keep the frame's predicted IoUs and MQF in its output; let the policy decide."""
        ious = self._last_predicted_ious
        logits = current_out["object_score_logits"]
        quality = memory_quality(logits, ious, current_out["pred_masks"])
        current_out["predicted_ious"] = ious
        current_out["memory_quality"] = quality
        record = FrameRecord(
            frame_idx=frame_idx,
            object_score_logit=float(logits.reshape(-1)[0]),
            predicted_ious=tuple(ious.reshape(-1).tolist()),
            quality=float(quality[0]),
            mask_logits=current_out["pred_masks"],
        )
        self.memory_policy.observe(track, record)

    def _memory_view(
        self, output_dict: dict, track: ObjectTrack, frame_idx: int, inference_state: dict
    ) -> dict:
        """The banks the model attends to for ``frame_idx`` (see the module docstring)."""
        stored = output_dict["non_cond_frame_outputs"]
        cond = dict(output_dict["cond_frame_outputs"])
        cond.update({t: stored[t] for t in track.promoted if t in stored and t not in cond})
        step = 1 if track.reverse else -1
        slots = max(self.num_maskmem - 1, self.max_obj_ptrs_in_encoder - 1)
        num_frames = inference_state["num_frames"]
        recent, source = {}, frame_idx
        for slot in range(1, slots + 1):
            source += step
            while source in track.excluded:
                source += step
            if not 0 <= source < num_frames:
                break
            if source in stored:
                recent[frame_idx + slot * step] = stored[source]
        return {"cond_frame_outputs": cond, "non_cond_frame_outputs": recent}


def tracked_frames(inference_state: dict) -> list[dict]:
    """What the last propagation pass saw per object and tracked frame: the object-score logit,
    the best predicted IoU, MQF, and whether the policy promoted the frame."""
    rows = []
    for obj_id, track in inference_state.get(TRACKS_KEY, {}).items():
        promoted = set(track.promoted)
        rows += [
            {
                "object": int(obj_id),
                "frame": frame.frame_idx,
                "object_logit": frame.object_score_logit,
                "best_iou": frame.best_iou,
                "quality": frame.quality,
                "promoted": frame.frame_idx in promoted,
            }
            for frame in track.history
        ]
    return rows
