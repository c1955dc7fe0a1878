"""Deterministic synthetic VOS data in the DAVIS layout.

Each video shows 1-3 textured shapes moving over a background. Trajectories are sinusoids whose
amplitude may carry a shape past the frame border, so objects leave and re-enter; shapes are
drawn in depth order, so nearer shapes occlude farther ones and masks hold only the visible
pixels. Everything derives from one seed: the same seed gives the same bytes.

A ``SceneStyle`` sets what the scenes look like (shapes, textures, sizes, speed, growth,
vanishing objects, unannotated distractors, background, the camera's gain and noise); ``STYLES``
names the presets:
``basic`` (the demo set), ``pretrain`` (the broad set the shipped model is pretrained on) and
``shifted`` (shapes, textures, a background and a low-light camera the pretrained model never
saw: the demo's fine-tuning domain).

Layout written under ``out``::

    JPEGImages/<video>/00000.jpg ...   RGB frames
    Annotations/<video>/00000.png ...  palette PNG masks, 0 = background, k = object k
    ImageSets/train.txt, ImageSets/val.txt   one video name per line
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from training_ext.data.masks_io import write_palette_mask
from training_ext.staged_write import staged_folder

SHAPES = ("ellipse", "rectangle", "triangle", "pentagon", "star", "cross")
TEXTURES = ("stripes", "checks", "flat", "noise", "dots", "rings")
BACKGROUNDS = ("smooth", "cluttered")


@dataclass(frozen=True)
class SceneStyle:
    """What the scenes of a synthetic set look like and how they move."""

    shapes: tuple[str, ...] = ("ellipse", "rectangle", "triangle")
    textures: tuple[str, ...] = ("stripes", "checks")
    radius: tuple[float, float] = (0.10, 0.20)  # fraction of min(width, height)
    speed: tuple[float, float] = (1.0, 1.0)  # multiplier of the path frequencies
    growth: float = 0.0  # the radius oscillates by up to this fraction
    vanish_prob: float = 0.0  # chance that an object vanishes for a stretch and comes back
    distractors: int = 0  # up to this many unannotated moving shapes
    background: str = "smooth"
    brightness: float = 1.0  # the camera's gain: below 1, a darker scene
    sensor_noise: float = 0.0  # std of the camera's per-pixel noise, in grey levels


STYLES = {
    "basic": SceneStyle(),
    "pretrain": SceneStyle(
        shapes=("ellipse", "rectangle", "triangle", "pentagon"),
        textures=("stripes", "checks", "flat", "noise"),
        radius=(0.07, 0.24),
        speed=(0.2, 1.5),
        growth=0.3,
        vanish_prob=0.3,
        distractors=1,
    ),
    "shifted": SceneStyle(
        shapes=("star", "cross"),
        textures=("dots", "rings"),
        radius=(0.08, 0.2),
        speed=(0.5, 1.2),
        background="cluttered",
        brightness=0.5,
        sensor_noise=24.0,
    ),
}


@dataclass(frozen=True)
class SynthSpec:
    """Sizes and style of a synthetic set."""

    train_videos: int = 48
    val_videos: int = 8
    frames: int = 16
    width: int = 192
    height: int = 144
    max_objects: int = 3
    reappear: bool = False  # every object vanishes for a stretch of frames, then comes back
    style: SceneStyle = SceneStyle()


@dataclass(frozen=True)
class MovingShape:
    """One object: a textured shape on a sinusoidal path."""

    kind: str
    radius: float
    center: tuple[float, float]
    amplitude: tuple[float, float]
    frequency: tuple[float, float]
    phase: tuple[float, float]
    angle_speed: float
    texture: np.ndarray  # (2r, 2r, 3) uint8, tiled under the shape
    growth: tuple[float, float] = (0.0, 0.0)  # radius oscillation: relative amplitude, frequency

    def position(self, t: int) -> tuple[float, float]:
        x = self.center[0] + self.amplitude[0] * np.sin(self.frequency[0] * t + self.phase[0])
        y = self.center[1] + self.amplitude[1] * np.sin(self.frequency[1] * t + self.phase[1])
        return x, y

    def radius_at(self, t: int) -> float:
        return self.radius * (1 + self.growth[0] * np.sin(self.growth[1] * t))


def _texture(
    rng: np.random.Generator, height: int, width: int, kinds: tuple[str, ...]
) -> np.ndarray:
    """A two-colour pattern with noise: enough structure for features to track."""
    base, accent = rng.integers(30, 226, size=(2, 3))
    yy, xx = np.mgrid[0:height, 0:width]
    period = rng.integers(4, 12)
    if kinds == ("stripes", "checks"):  # the basic style's draws, kept byte for byte
        kind = "stripes" if rng.random() < 0.5 else "checks"
    else:
        kind = kinds[rng.integers(len(kinds))]
    if kind == "stripes":
        theta = rng.uniform(0, np.pi)
        pattern = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period) > 0
    elif kind == "checks":
        pattern = ((xx // period) + (yy // period)) % 2 == 0
    elif kind == "flat":
        pattern = np.ones((height, width), bool)
    elif kind == "noise":
        pattern = cv2.resize(rng.random((height // 3 + 1, width // 3 + 1)), (width, height)) > 0.5
    elif kind == "dots":
        pattern = (xx % period - period / 2) ** 2 + (yy % period - period / 2) ** 2 > (
            period / 3
        ) ** 2
    else:  # rings
        pattern = np.sin(np.hypot(xx - width / 2, yy - height / 2) * 2 * np.pi / period) > 0
    image = np.where(pattern[..., None], base, accent).astype(np.float32)
    image += rng.normal(0, 8, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, height: int, width: int, kind: str) -> np.ndarray:
    """A smooth colour gradient with soft blobs, darker than most objects; ``cluttered`` adds
    faint static shapes with object-like edges."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    corners = rng.integers(0, 120, size=(2, 3)).astype(np.float32)
    mix = (xx / width + yy / height)[..., None] / 2
    image = corners[0] * (1 - mix) + corners[1] * mix
    for _ in range(6):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        sigma = rng.uniform(8, 30)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
        image += blob[..., None] * rng.uniform(-40, 40, size=3)
    if kind == "cluttered":
        for _ in range(12):
            clutter = np.zeros((height, width), np.uint8)
            center = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            axes = (int(rng.uniform(4, 16)), int(rng.uniform(4, 16)))
            cv2.ellipse(clutter, center, axes, rng.uniform(0, 180), 0, 360, 1, -1)
            image[clutter.astype(bool)] += rng.uniform(-50, 50, size=3)
    return np.clip(image, 0, 255).astype(np.uint8)


def _camera(rng: np.random.Generator, frame: np.ndarray, style: SceneStyle) -> np.ndarray:
    """What a camera with the style's gain and sensor noise records of ``frame``."""
    if style.brightness == 1.0 and not style.sensor_noise:
        return frame
    recorded = frame.astype(np.float32) * style.brightness
    recorded += rng.normal(0, style.sensor_noise, size=frame.shape)
    return np.clip(recorded, 0, 255).astype(np.uint8)


def _random_shape(rng: np.random.Generator, spec: SynthSpec) -> MovingShape:
    style = spec.style
    radius = rng.uniform(*style.radius) * min(spec.width, spec.height)
    # Amplitudes up to ~0.7 of the frame let some objects leave the frame and come back.
    amplitude = (rng.uniform(0.1, 0.7) * spec.width, rng.uniform(0.1, 0.5) * spec.height)
    size = int(2 * radius * (1 + style.growth)) + 2
    kind = style.shapes[rng.integers(len(style.shapes))]
    center = (rng.uniform(0.3, 0.7) * spec.width, rng.uniform(0.3, 0.7) * spec.height)
    frequency = (rng.uniform(0.15, 0.45), rng.uniform(0.15, 0.45))
    phase = (rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi))
    angle_speed = rng.uniform(-0.2, 0.2)
    texture = _texture(rng, size, size, style.textures)
    growth = (0.0, 0.0)
    if style.speed != (1.0, 1.0):
        speed = rng.uniform(*style.speed)
        frequency = (frequency[0] * speed, frequency[1] * speed)
    if style.growth:
        growth = (rng.uniform(0, style.growth), rng.uniform(0.05, 0.3))
    return MovingShape(
        kind, radius, center, amplitude, frequency, phase, angle_speed, texture, growth
    )


def _shape_mask(shape: MovingShape, t: int, height: int, width: int) -> np.ndarray:
    """Boolean mask of ``shape`` at frame ``t`` (may be empty when it is outside the frame)."""
    x, y = shape.position(t)
    r = shape.radius_at(t)
    angle = shape.angle_speed * t
    canvas = np.zeros((height, width), np.uint8)
    if shape.kind == "ellipse":
        axes = (int(r), int(r * 0.7))
        cv2.ellipse(canvas, (int(x), int(y)), axes, np.degrees(angle), 0, 360, 1, -1)
        return canvas.astype(bool)
    if shape.kind == "star":  # 5 points: outer and inner radii alternate
        polar = [(angle + k * np.pi / 5, r if k % 2 == 0 else r * 0.45) for k in range(10)]
    elif shape.kind == "cross":  # 4 arms: shoulder, tip, shoulder
        arm = ((-0.79, r * 0.5), (0.0, r), (0.79, r * 0.5))
        polar = [(angle + k * np.pi / 2 + d, rad) for k in range(4) for d, rad in arm]
    else:
        count = {"rectangle": 4, "triangle": 3, "pentagon": 5}[shape.kind]
        polar = [(angle + np.pi / 4 + k * 2 * np.pi / count, r) for k in range(count)]
    points = np.array([[x + rad * np.cos(a), y + rad * np.sin(a)] for a, rad in polar])
    cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
    return canvas.astype(bool)


def _paste_texture(frame: np.ndarray, mask: np.ndarray, shape: MovingShape, t: int) -> None:
    """Fill ``mask`` pixels of ``frame`` with the shape's texture, moving with the shape."""
    ys, xs = np.nonzero(mask)
    x, y = shape.position(t)
    size = shape.texture.shape[0]
    tex_y = (ys - int(y) + size // 2) % size
    tex_x = (xs - int(x) + size // 2) % size
    frame[ys, xs] = shape.texture[tex_y, tex_x]


def _hidden_stretch(rng: np.random.Generator, frames: int) -> range:
    """Frames during which an object is gone: starting in the first half (never frame 0),
    lasting 1/8 to 1/4 of the video, so the object comes back before the end."""
    start = int(rng.integers(max(1, frames // 4), max(2, frames // 2 + 1)))
    length = int(rng.integers(max(1, frames // 8), max(2, frames // 4 + 1)))
    return range(start, min(start + length, frames - 1))


def render_video(rng: np.random.Generator, spec: SynthSpec) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 and masks (T, H, W) uint8 of one video.

    Re-draws a video until object 1 is visible in frame 0, so first-frame prompting is possible.
    With ``spec.reappear`` every object vanishes for a stretch and comes back further along its
    path (its mask is empty meanwhile); with the style's ``vanish_prob`` some objects do.
    Distractors are drawn like objects, at a random depth, and left out of the masks.
    """
    style = spec.style
    while True:
        num_objects = int(rng.integers(1, spec.max_objects + 1))
        shapes = [_random_shape(rng, spec) for _ in range(num_objects)]
        background = _background(rng, spec.height, spec.width, style.background)
        hidden = [
            _hidden_stretch(rng, spec.frames)
            if spec.reappear or (style.vanish_prob and rng.random() < style.vanish_prob)
            else range(0)
            for _ in shapes
        ]
        # (object id or 0 for a distractor, shape) in drawing order: later ones are nearer
        layers = list(enumerate(shapes, start=1))
        if style.distractors:
            for _ in range(int(rng.integers(0, style.distractors + 1))):
                layers.insert(int(rng.integers(0, len(layers) + 1)), (0, _random_shape(rng, spec)))
        frames = np.empty((spec.frames, spec.height, spec.width, 3), np.uint8)
        masks = np.zeros((spec.frames, spec.height, spec.width), np.uint8)
        for t in range(spec.frames):
            frame = background.copy()
            for object_id, shape in layers:
                if object_id and t in hidden[object_id - 1]:
                    continue
                mask = _shape_mask(shape, t, spec.height, spec.width)
                _paste_texture(frame, mask, shape, t)
                masks[t][mask] = object_id
            frames[t] = _camera(rng, frame, style)
        if (masks[0] == 1).sum() >= 20:
            return frames, masks


def _write_video(root: Path, name: str, frames: np.ndarray, masks: np.ndarray) -> None:
    image_dir = root / "JPEGImages" / name
    mask_dir = root / "Annotations" / name
    image_dir.mkdir(parents=True)
    mask_dir.mkdir(parents=True)
    for t, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
        Image.fromarray(frame).save(image_dir / f"{t:05d}.jpg", quality=92)
        write_palette_mask(mask_dir / f"{t:05d}.png", mask)


def generate(out: Path, seed: int, spec: SynthSpec = SynthSpec(), progress: bool = True) -> Path:
    """Write a synthetic set to ``out`` (which must not exist yet) and return it.

    The set is built in a temporary sibling folder and renamed into place, so an interrupted
    run never leaves a half-written ``out`` behind.
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists: remove it or choose another --out")
    with staged_folder(out) as staging:
        rng = np.random.default_rng(seed)
        splits = {"train": spec.train_videos, "val": spec.val_videos}
        (staging / "ImageSets").mkdir()
        total = sum(splits.values())
        with tqdm(total=total, desc="synthetic videos", unit="video", disable=not progress) as bar:
            for split, count in splits.items():
                names = [f"{split}_{index:04d}" for index in range(count)]
                for name in names:
                    frames, masks = render_video(rng, spec)
                    _write_video(staging, name, frames, masks)
                    bar.update()
                listing = "".join(f"{name}\n" for name in names)  # empty for no videos
                (staging / "ImageSets" / f"{split}.txt").write_text(listing)
    return out
