"""Memory-selection policies: decisions on crafted per-frame outputs, MQF, the memory the model
attends to, `none` equal to the stock predictor, and the sam2-eval / validation switches."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import assert_one_line_error, check_ok, run_command, val_data, val_list, val_videos

from training_ext.config import compose_config, initialize_hydra
from training_ext.errors import UserError
from training_ext.evaluation.in_training import VOSValidation
from training_ext.evaluation.inference import dataset_videos, ground_truth_prompts
from training_ext.evaluation.predictors import build_predictor
from training_ext.memory_policies import make_policy, parse_policy_args, policy_spec
from training_ext.memory_policies.base import (
    FrameRecord,
    MemoryDecision,
    MemoryPolicy,
    NoMemoryPolicy,
    ObjectTrack,
)
from training_ext.memory_policies.quality import memory_quality
from training_ext.memory_policies.quality_gate import QualityGatePolicy
from training_ext.memory_policies.rcms import RCMSPolicy


def frame(t: int, quality: float, logit: float = 3.0, iou: float = 0.9) -> FrameRecord:
    return FrameRecord(t, logit, (iou, iou / 2), quality)


def track_frames(
    policy: MemoryPolicy, frames: list[FrameRecord], reverse: bool = False
) -> tuple[ObjectTrack, dict[int, MemoryDecision]]:
    track = ObjectTrack(reverse=reverse)
    return track, {f.frame_idx: policy.observe(track, f) for f in frames}


# -- RCMS on crafted outputs ---------------------------------------------------------------------

QUALITIES = [0.9, 0.5, 0.8, 0.7, 0.65, 0.9, 0.3]  # frames 1..7 (frame 0 is the prompt)


def test_rcms_promotes_reliable_frames_once_walking_back_from_the_disappearance() -> None:
    frames = [frame(t, q) for t, q in enumerate(QUALITIES, start=1)]
    frames += [frame(8, 0.0, logit=-2.0), frame(9, 0.0, logit=-1.0)]  # object gone
    frames += [frame(10, 0.9), frame(11, 0.0, logit=-0.5)]  # back, gone again
    track, decisions = track_frames(RCMSPolicy(), frames)
    # Walk back from frame 7: 7 (0.3) fails, then 6, 5, 4, 3 pass; the cap stops at 4 frames.
    assert decisions[8].promote == (6, 5, 4, 3)
    assert all(not decisions[t].promote for t in decisions if t != 8)  # once per object
    assert track.promoted == [6, 5, 4, 3] and track.first_absent_frame == 8
    assert all(d.remember for d in decisions.values())  # RCMS never gates the recent window


def test_rcms_in_reverse_walks_back_towards_higher_frame_indices() -> None:
    # Tracking from a prompt on frame 8 down to 0: frames 7, 6, ... in that order.
    frames = [frame(8 - t, q) for t, q in enumerate(QUALITIES, start=1)]  # 7 .. 1
    frames.append(frame(0, 0.0, logit=-1.0))
    track, decisions = track_frames(RCMSPolicy(), frames, reverse=True)
    assert decisions[0].promote == (2, 3, 4, 5)  # frame 1 (0.3) fails; nearest first
    assert track.promoted == [2, 3, 4, 5]


def test_rcms_threshold_is_strict_and_the_cap_is_a_parameter() -> None:
    frames = [frame(1, 0.6), frame(2, 0.61), frame(3, 0.95), frame(4, 0.7), frame(5, 0.0, -1)]
    _, decisions = track_frames(RCMSPolicy(num_prev_frames_to_promote=2), frames)
    assert decisions[5].promote == (4, 3)
    _, decisions = track_frames(RCMSPolicy(low_quality_threshold=0.9), frames)
    assert decisions[5].promote == (3,)


def test_rcms_disappearance_on_the_first_tracked_frame_promotes_nothing_and_is_recorded() -> None:
    track, decisions = track_frames(
        RCMSPolicy(), [frame(1, 0.0, -3.0), frame(2, 0.9), frame(3, 0, -1)]
    )
    assert track.first_absent_frame == 1 and track.promoted == []
    assert not any(d.promote for d in decisions.values())


def test_rcms_skips_frames_already_out_of_the_store() -> None:
    """Frames another decision took out of the recent store are not promoted again."""
    track = ObjectTrack()
    for f in (frame(1, 0.9), frame(2, 0.9)):
        track.apply(f, MemoryDecision(remember=f.frame_idx != 2))
    assert RCMSPolicy().decide(track, frame(3, 0.0, -1.0)).promote == (1,)


def test_quality_gate_remembers_only_present_frames_with_a_high_predicted_iou() -> None:
    frames = [
        frame(1, 0.5, logit=2.0, iou=0.9),
        frame(2, 0.5, logit=2.0, iou=0.4),
        frame(3, 0.5, logit=-0.1, iou=0.95),
        frame(4, 0.5, logit=0.5, iou=0.51),
    ]
    track, decisions = track_frames(QualityGatePolicy(iou_threshold=0.5), frames)
    assert [t for t, d in decisions.items() if d.remember] == [1, 4]
    assert track.excluded == {2, 3} and track.promoted == []


def test_none_changes_nothing() -> None:
    frames = [frame(1, 0.9), frame(2, 0.0, -1.0)]
    track, decisions = track_frames(NoMemoryPolicy(), frames)
    assert set(decisions.values()) == {MemoryDecision()} and not track.excluded


# -- MQF -----------------------------------------------------------------------------------------


def test_memory_quality_is_presence_times_best_iou_times_foreground_confidence() -> None:
    logits = torch.full((2, 1, 4, 4), -5.0)
    logits[0, 0, :2, :2] = torch.tensor([[1.0, 2.0], [3.0, 0.5]])
    ious = torch.tensor([[0.2, 0.8, 0.5], [0.9, 0.9, 0.9]])
    scores = torch.tensor([[0.0], [4.0]])
    quality = memory_quality(scores, ious, logits)
    confidence = torch.tensor([1.0, 2.0, 3.0, 0.5]).sigmoid().mean()
    assert quality[0].item() == pytest.approx(0.5 * 0.8 * confidence.item())
    assert quality[1].item() == 0.0  # empty mask: 0, not NaN
    assert not torch.isnan(quality).any()


# -- policy specs --------------------------------------------------------------------------------


def test_policy_specs_convert_values_and_round_trip() -> None:
    policy = make_policy({"name": "rcms", **parse_policy_args(["low_quality_threshold=0.5"])})
    assert policy == RCMSPolicy(low_quality_threshold=0.5)
    assert make_policy(policy_spec(policy)) == policy
    assert isinstance(make_policy(None), NoMemoryPolicy)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"name": "bogus"}, "unknown policy 'bogus'"),
        ({"name": "rcms", "frames": 3}, "has no parameter 'frames'"),
        ({"name": "rcms", "num_prev_frames_to_promote": "many"}, "must be a int"),
        ({"name": "rcms", "num_prev_frames_to_promote": 0}, "must be >= 1"),
        ({"name": "rcms", "low_quality_threshold": 1.5}, "must be in [0, 1)"),
        ({"name": "quality_gate", "iou_threshold": -0.1}, "must be in [0, 1)"),
    ],
)
def test_bad_policy_specs_name_the_problem(spec: dict, fragment: str) -> None:
    with pytest.raises(UserError) as error:
        make_policy(spec, where="here")
    assert fragment in str(error.value) and str(error.value).startswith("here:")


# -- the predictor -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model():
    initialize_hydra()
    return compose_config("demo_scratch", []).trainer.model


def predictor_pair(tiny_model, policy: dict | MemoryPolicy):
    """The stock predictor and a policy predictor with the same random weights."""
    torch.manual_seed(0)
    stock = build_predictor(tiny_model, None, "cpu")
    ours = build_predictor(tiny_model, None, "cpu", memory_policy=policy_spec(make_policy(policy)))
    ours.load_state_dict(stock.state_dict())
    return stock, ours


def track_video(predictor, video, prompt_frame: int = 0, reverse: bool = False) -> list:
    """Per frame: (frame index, mask logits, object-score logits of every object)."""
    state = predictor.init_state(str(video.frames_dir))
    prompts = ground_truth_prompts(video, "first")
    for prompt in prompts:
        predictor.add_new_mask(state, prompt_frame, prompt.object_id, prompt.mask)
    outputs = []
    for pass_reverse in (False, True) if reverse else (False,):
        for frame_idx, _, logits in predictor.propagate_in_video(state, reverse=pass_reverse):
            banks = state["output_dict_per_obj"].values()
            outs = [b["non_cond_frame_outputs"].get(frame_idx) for b in banks]
            outs = [
                o or b["cond_frame_outputs"][frame_idx] for o, b in zip(outs, banks, strict=True)
            ]
            scores = [out["object_score_logits"] for out in outs]
            outputs.append((frame_idx, logits.clone(), torch.cat(scores)))
    return outputs, state


def test_policy_none_is_bit_identical_to_the_stock_predictor(tiny_model, synthetic_root) -> None:
    stock, ours = predictor_pair(tiny_model, {"name": "none"})
    assert type(stock).__name__ == "SAM2VideoPredictor"
    assert type(ours).__name__ == "MemoryPolicyVideoPredictor"
    video = dataset_videos(synthetic_root, val_list(synthetic_root))[0]
    for prompt_frame, reverse in ((0, False), (4, True)):  # forward; middle prompt, both ways
        expected, _ = track_video(stock, video, prompt_frame, reverse)
        actual, state = track_video(ours, video, prompt_frame, reverse)
        assert [e[0] for e in expected] == [a[0] for a in actual]
        for (_, mask_e, score_e), (_, mask_a, score_a) in zip(expected, actual, strict=True):
            assert torch.equal(mask_e, mask_a) and torch.equal(score_e, score_a)
    # MQF and predicted IoUs are kept per tracked frame.
    outputs = state["output_dict_per_obj"][0]["non_cond_frame_outputs"]
    assert all(0 <= out["memory_quality"].item() <= 1 for out in outputs.values())
    assert all(out["predicted_ious"].shape[0] == 1 for out in outputs.values())


class ScriptedPolicy(MemoryPolicy):
    """Promotes ``promote`` when tracking reaches ``at``; forgets the frames in ``forget``."""

    name = "scripted"

    def __init__(self, at: int, promote: tuple[int, ...], forget: frozenset[int] = frozenset()):
        self.at, self.promote, self.forget = at, promote, forget

    def decide(self, track: ObjectTrack, frame: FrameRecord) -> MemoryDecision:
        promote = self.promote if frame.frame_idx == self.at else ()
        return MemoryDecision(promote=promote, remember=frame.frame_idx not in self.forget)


def attended_memory(predictor, video, prompt_frame: int, reverse: bool) -> dict[int, tuple]:
    """Per tracked frame of object 1: (conditioning frames, recent slot -> stored frame)."""
    seen = {}
    original = predictor._prepare_memory_conditioned_features

    def spy(**kwargs):
        banks = kwargs["output_dict"]
        store = state["output_dict_per_obj"][0]["non_cond_frame_outputs"]
        frame_of = {id(out): t for t, out in store.items()}
        recent = {slot: frame_of[id(out)] for slot, out in banks["non_cond_frame_outputs"].items()}
        seen.setdefault(kwargs["frame_idx"], (sorted(banks["cond_frame_outputs"]), recent))
        return original(**kwargs)

    predictor._prepare_memory_conditioned_features = spy
    state = predictor.init_state(str(video.frames_dir))
    prompt = ground_truth_prompts(video, "first")[0]
    predictor.add_new_mask(state, prompt_frame, prompt.object_id, prompt.mask)
    try:
        for _ in predictor.propagate_in_video(state, reverse=reverse):
            pass
    finally:
        del predictor._prepare_memory_conditioned_features
    assert list(state["output_dict_per_obj"][0]["cond_frame_outputs"]) == [prompt_frame]
    return seen


def test_promoted_frames_become_conditioning_memory_and_the_window_stays_full(
    tiny_model, synthetic_root
) -> None:
    video = dataset_videos(synthetic_root, val_list(synthetic_root))[0]
    _, ours = predictor_pair(tiny_model, {"name": "none"})
    ours.memory_policy = ScriptedPolicy(at=4, promote=(3, 1), forget=frozenset({5}))
    seen = attended_memory(ours, video, prompt_frame=0, reverse=False)
    cond, recent = seen[4]  # before the promotion: the stock banks (frame 0 is the prompt)
    assert cond == [0] and [recent.get(4 - k) for k in range(1, 5)] == [3, 2, 1, None]
    # Slots filled nearest first, skipping the promoted frames; the prompt frame stays a gap.
    cond, recent = seen[5]
    assert cond == [0, 1, 3] and [recent.get(5 - k) for k in range(1, 5)] == [4, 2, None, None]
    cond, recent = seen[6]  # frame 5 was not remembered: frame 4 moves up
    assert cond == [0, 1, 3] and [recent.get(6 - k) for k in range(1, 5)] == [4, 2, None, None]
    cond, recent = seen[7]
    assert [recent.get(7 - k) for k in range(1, 5)] == [6, 4, 2, None]
    # Reverse: prompt on the last frame; the promotion walks towards higher indices.
    last = len(video.frame_names()) - 1
    ours.memory_policy = ScriptedPolicy(at=last - 4, promote=(last - 3, last - 1))
    seen = attended_memory(ours, video, prompt_frame=last, reverse=True)
    cond, recent = seen[last - 5]
    assert cond == [last - 3, last - 1, last]
    assert [recent.get(last - 5 + k) for k in range(1, 4)] == [last - 4, last - 2, None]


def test_a_new_pass_starts_from_fresh_policy_state(tiny_model, synthetic_root) -> None:
    video = dataset_videos(synthetic_root, val_list(synthetic_root))[0]
    _, ours = predictor_pair(tiny_model, {"name": "none"})
    ours.memory_policy = ScriptedPolicy(at=3, promote=(2,))
    state = ours.init_state(str(video.frames_dir))
    prompt = ground_truth_prompts(video, "first")[0]
    ours.add_new_mask(state, 0, prompt.object_id, prompt.mask)
    assert [t for t, _, _ in ours.propagate_in_video(state)][0] == 0
    assert state["memory_policy_tracks"][prompt.object_id].promoted == [2]
    frames = [t for t, _, _ in ours.propagate_in_video(state)]
    assert frames[0] == 0 and len(frames) == len(video.frame_names())  # starts at the prompt


# -- sam2-eval and validation ----------------------------------------------------------------------


def test_sam2_eval_runs_each_policy_end_to_end(demo_run: Path, synthetic_root: Path, tmp_path):
    summaries = {}
    val = val_videos(synthetic_root)
    for policy, args in (("rcms", ["low_quality_threshold=0.1"]), ("quality_gate", [])):
        out = tmp_path / policy
        extra = ["--memory-policy-args", *args] if args else []
        check_ok(
            run_command(
                "sam2-eval",
                "run",
                "--run",
                demo_run,
                *val_data(synthetic_root),
                "--out",
                out,
                "--mode",
                "mosev2",
                "--memory-policy",
                policy,
                *extra,
            )
        )
        summaries[policy] = json.loads((out / "scores" / "summary.json").read_text())
        tracked = pd.read_csv(out / "scores" / "tracked_frames.csv")
        tracking = json.loads((out / "scores" / "tracking.json").read_text())
        # one row per object and tracked frame: every frame after the first-frame prompt
        frames = {v: len(list((synthetic_root / "JPEGImages" / v).glob("*.jpg"))) for v in val}
        objects = summaries[policy]["objects"]
        assert len(tracked) == tracking["tracked_object_frames"]
        assert len(tracked) == sum((frames[v] - 1) * n for v, n in per_video_objects(out).items())
        assert tracking["absent_frames"] + tracking["visible_frames"] == len(tracked)
        assert tracking["promoted_frames"] == int(tracked["promoted"].sum())
        assert objects == tracked.groupby(["video", "object"]).ngroups
    assert all(0 <= s["J&Fdot"] <= 1 for s in summaries.values())


def per_video_objects(eval_dir: Path) -> dict[str, int]:
    per_object = pd.read_csv(eval_dir / "scores" / "per_object.csv")
    return per_object.groupby("video").size().to_dict()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--memory-policy", "bogus"], "--memory-policy: unknown policy 'bogus'"),
        (
            ["--memory-policy", "quality_gate", "--memory-policy-args", "iou_threshold=2"],
            "iou_threshold must be in [0, 1)",
        ),
    ],
)
def test_sam2_eval_bad_policy_is_one_line(synthetic_root: Path, tmp_path, args, fragment) -> None:
    result = run_command(
        "sam2-eval",
        "predict",
        "--config",
        "demo_scratch",
        "--data",
        synthetic_root,
        "--out",
        tmp_path / "out",
        *args,
    )
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "out").exists()


def test_validation_switch_selects_the_policy(tiny_model, synthetic_root: Path, tmp_path) -> None:
    cfg = compose_config(
        "demo_scratch",
        [f"dataset.root={synthetic_root}", "trainer.vos_validation.memory_policy.name=rcms"],
    )
    validation = VOSValidation(**cfg.trainer.vos_validation)
    torch.manual_seed(0)
    model = build_predictor(tiny_model, None, "cpu")
    summary = validation.evaluate(model, tiny_model, epoch=0, out_root=tmp_path)
    assert validation._predictor.memory_policy == RCMSPolicy()
    assert 0 <= summary["J&F"] <= 1 and (tmp_path / "scores.csv").is_file()


def test_stock_builder_makes_a_policy_predictor_from_a_predictor_config() -> None:
    from sam2.build_sam import build_sam2_video_predictor

    initialize_hydra()
    predictor = build_sam2_video_predictor(
        "predictor/tiny_demo",
        None,
        device="cpu",
        hydra_overrides_extra=[
            "++model._target_=training_ext.memory_policies.video_predictor.MemoryPolicyVideoPredictor",
            "++model.memory_policy={name:rcms,low_quality_threshold:0.5}",
        ],
    )
    assert predictor.memory_policy == RCMSPolicy(low_quality_threshold=0.5)
