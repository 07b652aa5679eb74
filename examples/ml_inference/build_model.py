"""Build the example's image classifier offline and save it as a PyTorch Hub directory.

Nothing can be downloaded from a model hub here, so instead of the article's pre-trained bird
model this trains a small CNN (about 0.6 M parameters, 2.4 MB) on generated pictures of four
shapes — circle, square, triangle, star — drawn with Pillow in random colours, sizes, positions
and rotations, with noise and JPEG artefacts. It reaches > 97 % on held-out images in well
under a minute on two CPU cores, so the API's answers for pictures of a known shape are right.

    python3.11 build_model.py --out <TORCH_HOME> [--samples DIR]

writes ``<TORCH_HOME>/hub/shoal_shapes/{hubconf.py,shapes_cnn.pt}``, which the handler loads
with ``torch.hub.load(<TORCH_HOME>/hub/shoal_shapes, 'shapes_cnn', source='local')``, and with
``--samples`` one picture of each class to send to the API. The run is seeded: the same
command on the same machine (and thread count) writes the same weights.

It needs only torch, Pillow and NumPy — run it with ``PYTHONPATH=<mount>/lib`` to use the
libraries just installed into the file system.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import math
import os
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torch import nn

HERE = Path(__file__).resolve().parent
HUBCONF = HERE / "hub" / "hubconf.py"
REPO = "shoal_shapes"
ENTRY = "shapes_cnn"
# Normalisation shared with the handler's transform: (pixel / 255 - MEAN) / STD.
MEAN, STD = 0.5, 0.5


def load_hubconf() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shoal_shapes_hubconf", HUBCONF)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- generated pictures ------------------------------------------------------------------------


def _polygon(cx: float, cy: float, radii: list[float], angle: float) -> list[tuple[float, float]]:
    step = 2 * math.pi / len(radii)
    return [
        (cx + r * math.cos(angle + step * i), cy + r * math.sin(angle + step * i))
        for i, r in enumerate(radii)
    ]


def _colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A background and a foreground colour far enough apart to see the shape."""
    while True:
        bg = rng.integers(0, 256, 3)
        fg = rng.integers(0, 256, 3)
        if np.abs(bg.astype(int) - fg.astype(int)).sum() >= 150:
            return tuple(int(c) for c in bg), tuple(int(c) for c in fg)


def draw_shape(
    label: str, rng: np.random.Generator, size: int | None = None, clear: bool = False
) -> Image.Image:
    """One picture of ``label``: a filled shape on a plain background, randomly placed.

    Training pictures are made hard (small shapes, blur, noise, heavy JPEG); ``clear`` ones —
    the samples sent to the API — are what a person would call an obvious picture of it.
    """
    size = size or int(rng.integers(48, 161))
    bg, fg = _colours(rng)
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    r = size * float(rng.uniform(0.3, 0.42) if clear else rng.uniform(0.22, 0.45))
    cx = float(rng.uniform(r, size - r))
    cy = float(rng.uniform(r, size - r))
    angle = float(rng.uniform(0, 2 * math.pi))
    if label == "circle":
        ry = r * float(rng.uniform(0.9, 1.1))
        draw.ellipse([cx - r, cy - ry, cx + r, cy + ry], fill=fg)
    elif label == "square":
        draw.polygon(_polygon(cx, cy, [r] * 4, angle), fill=fg)
    elif label == "triangle":
        draw.polygon(_polygon(cx, cy, [r] * 3, angle), fill=fg)
    elif label == "star":
        inner = r * float(rng.uniform(0.38, 0.5))
        draw.polygon(_polygon(cx, cy, [r, inner] * 5, angle), fill=fg)
    else:
        raise ValueError(label)
    if clear:
        return img
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    pixels = np.asarray(img, dtype=np.float32)
    pixels += rng.normal(0, float(rng.uniform(0, 12)), pixels.shape).astype(np.float32)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:  # the API gets JPEGs too
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(40, 95)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def preprocess(img: Image.Image, image_size: int) -> np.ndarray:
    """The handler's transform, in Pillow + NumPy: resize, scale to [0, 1], normalise, CHW."""
    img = img.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
    array = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
    return array.transpose(2, 0, 1)


def dataset(
    classes: tuple[str, ...], per_class: int, image_size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(classes)), per_class)
    rng.shuffle(labels)
    images = np.stack([preprocess(draw_shape(classes[i], rng), image_size) for i in labels])
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


# --- training ----------------------------------------------------------------------------------


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    batch = 64
    steps = epochs * math.ceil(len(x) / batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            optimiser.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}", flush=True)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(1) == y).float().mean())


def save_hub(model: nn.Module, out: Path) -> Path:
    """Write ``<out>/hub/shoal_shapes`` (hubconf.py + weights), replacing an older build."""
    repo = out / "hub" / REPO
    tmp = out / "hub" / f".{REPO}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(HUBCONF, tmp / "hubconf.py")
    torch.save(model.state_dict(), tmp / "shapes_cnn.pt")
    # Swap the whole directory in, so a running function never sees half a model.
    old = out / "hub" / f".{REPO}.old"
    shutil.rmtree(old, ignore_errors=True)
    if repo.exists():
        os.rename(repo, old)
    os.rename(tmp, repo)
    shutil.rmtree(old, ignore_errors=True)
    return repo


def write_samples(
    model: nn.Module,
    classes: tuple[str, ...],
    directory: Path,
    count: int,
    seed: int,
    image_size: int,
) -> list[str]:
    """Write ``count`` clear pictures per class (``<class>-<n>.png|jpg``); the misread ones.

    Each file is read back and classified as the handler will, so a build whose samples would
    not come back right is refused instead of shipped.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1000)
    wrong = []
    model.eval()
    for n in range(count):
        for i, label in enumerate(classes):
            path = directory / f"{label}-{n}.{'png' if (n + i) % 2 == 0 else 'jpg'}"
            draw_shape(label, rng, size=int(rng.integers(120, 321)), clear=True).save(path)
            x = torch.from_numpy(preprocess(Image.open(path), image_size)).unsqueeze(0)
            with torch.no_grad():
                if classes[int(model(x).argmax(1))] != label:
                    wrong.append(path.name)
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="TORCH_HOME to write into")
    parser.add_argument("--samples", type=Path, help="also write sample pictures here")
    parser.add_argument("--samples-per-class", type=int, default=1)
    parser.add_argument("--per-class", type=int, default=1200, help="training pictures per class")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (fixed so that the run is repeatable)"
    )
    parser.add_argument(
        "--min-accuracy", type=float, default=0.95, help="fail if held-out accuracy is below this"
    )
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    hub = load_hubconf()
    classes: tuple[str, ...] = tuple(hub.CLASSES)
    started = time.monotonic()
    x, y = dataset(classes, args.per_class, hub.IMAGE_SIZE, args.seed)
    vx, vy = dataset(classes, 100, hub.IMAGE_SIZE, args.seed + 1)
    print(
        f"generated {len(x)} training and {len(vx)} held-out pictures of {', '.join(classes)} "
        f"in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    model = hub.ShapesCNN(len(classes))
    train(model, x, y, args.epochs, args.seed)
    acc = accuracy(model, vx, vy)
    print(f"trained in {time.monotonic() - started:.1f} s; held-out accuracy {acc:.1%}")
    if acc < args.min_accuracy:
        print(f"build_model: accuracy {acc:.1%} is below {args.min_accuracy:.0%}", file=sys.stderr)
        return 1
    repo = save_hub(model, args.out)
    digest = hashlib.sha256((repo / "shapes_cnn.pt").read_bytes()).hexdigest()[:16]
    size = (repo / "shapes_cnn.pt").stat().st_size
    print(f"saved {repo} ({size / 1e6:.1f} MB, sha256 {digest}…)")
    if args.samples:
        n = args.samples_per_class
        wrong = write_samples(model, classes, args.samples, n, args.seed, hub.IMAGE_SIZE)
        print(f"wrote {n * len(classes)} sample pictures to {args.samples}")
        if wrong:
            print(f"build_model: samples misread: {', '.join(wrong)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
