"""Does the default LeNet keep the meaning of orientation-sensitive pictures? Digits, three ways.

    python benchmarks/flip_digits.py                      # 300 + 100 pictures per class, 10 epochs
    python benchmarks/flip_digits.py --per-class 500 --epochs 5

Issue #12: a left-right mirror changes what a digit means (a mirrored 2 is no 2),
so for class names that look like digits, letters or sides easycls's default
augmentation is 'shift' (no mirror), and train() prints why. This benchmark
checks that the default does at least as well as `augment='shift'` (the flip
switched off by hand), and shows what forcing the flip on (`augment='shift+flip'`)
costs. Each run is a fresh `Classifier('LeNet')`, `load_dataset`, then
`train(epochs=N)` with nothing else set but augment in runs (b) and (c); the
augment used and its reason are read from what train() prints (the recipe table)
and from the trained model's recipe. Scores: val top-1, the best epoch's and the
last epoch's. Wall time: loading the data and training, validation included.

Data (made once under benchmarks/data/flip_digits/, git-ignored): classes "0".."9",
28x28 gray, a white digit on black, drawn with PIL from every TrueType font under
/usr/share/fonts (PIL's own scalable font where there is none), each picture in a
random font, height, stroke width, rotation (up to 15 degrees either way) and
position. The same seed and fonts give the same pictures; a different --per-class,
--val-per-class, --seed or font list makes the set anew. Nothing is downloaded.
"""
import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from easycls.data.lists import write_list  # noqa: E402

TARGET = HERE / "data" / "flip_digits"
CLASSES = tuple(str(digit) for digit in range(10))
SIZE = 28
SUPERSAMPLE = 4  # drawn this many times larger, then averaged down, for smooth edges
FONT_PX = 96  # the size glyphs are drawn at before they are scaled to their height
SPLITS = (("training_set", 0), ("val_set", 1))
RUNS = (("(a) defaults", None), ("(b) augment='shift' (flip off)", "shift"),
        ("(c) augment='shift+flip' (flip on)", "shift+flip"))


# ------------------------------------------------------------------------ data

def font_files() -> list:
    """Every TrueType/OpenType font of the machine, in name order; [] where there is none."""
    found = set()
    for folder in ("/usr/share/fonts", "/usr/local/share/fonts", Path.home() / ".fonts"):
        for pattern in ("*.ttf", "*.otf"):
            found.update(str(path) for path in Path(folder).rglob(pattern))
    usable = []
    for path in sorted(found):
        try:
            font = ImageFont.truetype(path, FONT_PX)
        except OSError:
            continue
        # A font without digits draws boxes (or nothing): same ink for every digit.
        inks = {tuple(font.getbbox(digit)) for digit in CLASSES}
        if len(inks) > 1:
            usable.append(path)
    return usable


def load_font(path):
    return ImageFont.truetype(path, FONT_PX) if path else ImageFont.load_default(size=FONT_PX)


def draw_digit(digit: str, font, rng: np.random.Generator) -> Image.Image:
    """One 28x28 'L' picture: a white digit on black, of random stroke, rotation, height, place."""
    big = SIZE * SUPERSAMPLE
    stroke = int(rng.integers(0, 9))  # extra pixels of outline at FONT_PX: thin to bold
    canvas = Image.new("L", (3 * FONT_PX, 3 * FONT_PX), 0)
    ImageDraw.Draw(canvas).text((1.5 * FONT_PX, 1.5 * FONT_PX), digit, font=font, fill=255,
                                anchor="mm", stroke_width=stroke, stroke_fill=255)
    glyph = canvas.rotate(rng.uniform(-15.0, 15.0), resample=Image.BICUBIC)
    glyph = glyph.crop(glyph.getbbox())
    # Height 13 to 24 px of the 28, as MNIST's digits are about 20; never wider than 26.
    scale = min(rng.uniform(13.0, 24.0) * SUPERSAMPLE / glyph.height,
                26.0 * SUPERSAMPLE / glyph.width)
    width, height = max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))
    glyph = glyph.resize((width, height), Image.LANCZOS)
    left = int(rng.integers(0, big - width + 1))
    top = int(rng.integers(0, big - height + 1))
    picture = Image.new("L", (big, big), 0)
    picture.paste(glyph, (left, top))
    return picture.reduce(SUPERSAMPLE)


def make_digits(target: Path, per_class: int, val_per_class: int, seed: int) -> Path:
    """The data set in easycls's layout, made once for these settings and fonts."""
    fonts = font_files()
    settings = {"per_class": per_class, "val_per_class": val_per_class, "seed": seed,
                "fonts": fonts, "version": 1}
    done = target / "made.json"
    if done.exists() and json.loads(done.read_text()) == settings:
        return target
    print(f"Drawing {len(CLASSES)} x ({per_class} + {val_per_class}) digits in "
          f"{len(fonts) or 'PIL default'} font(s) into {target} (once) ...", flush=True)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    loaded = [load_font(path) for path in fonts] or [load_font(None)]
    write_list(target / "classes.txt", list(CLASSES))
    for (folder, split_id), count in zip(SPLITS, (per_class, val_per_class)):
        lines = []
        for label, digit in enumerate(CLASSES):
            (target / folder / digit).mkdir(parents=True)
            # One random stream per split and class, as easycls.data.synthetic does.
            rng = np.random.default_rng([seed, split_id, zlib.crc32(digit.encode())])
            for i in range(count):
                font = loaded[int(rng.integers(len(loaded)))]
                name = f"{digit}_{i:04d}.png"
                draw_digit(digit, font, rng).save(target / folder / digit / name)
                lines.append(f"{digit}/{name} {label}")
        if split_id == 1:
            write_list(target / "val.txt", lines)
    done.write_text(json.dumps(settings, indent=1))
    return target


# ------------------------------------------------------------------------ runs

def augment_line(printed: str) -> str:
    """The recipe table's augment row, as train() printed it."""
    for line in printed.splitlines():
        if line.strip().startswith("augment "):
            return line.strip()
    return "(no augment line printed)"


def run(data: Path, epochs: int, augment) -> dict:
    from easycls import Classifier

    save_fold = tempfile.mkdtemp(prefix="flip_digits_")
    options = {} if augment is None else {"augment": augment}
    printed = io.StringIO()
    try:
        started = time.perf_counter()
        with contextlib.redirect_stdout(printed):
            model = Classifier("LeNet")
            model.load_dataset(data)
            history = model.train(epochs=epochs, save_fold=save_fold, **options)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(save_fold, ignore_errors=True)
    top1 = [line["accuracy_top-1"] for line in history if line["mode"] == "val"]
    return {"augment": model.meta["recipe"]["augment"], "printed": augment_line(printed.getvalue()),
            "best": max(top1), "final": top1[-1], "seconds": seconds, "per_epoch": top1}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=300, help="training pictures per class")
    parser.add_argument("--val-per-class", type=int, default=100,
                        help="validation pictures per class")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="of the drawn pictures")
    args = parser.parse_args()
    import torch

    print(f"Machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads; load average before: {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    data = make_digits(TARGET, args.per_class, args.val_per_class, args.seed)
    fonts = json.loads((data / "made.json").read_text())["fonts"]
    print(f"Data: {data}, classes {', '.join(CLASSES)}; {args.per_class} training and "
          f"{args.val_per_class} validation pictures per class, {SIZE} px, "
          f"{len(fonts) or 'PIL default'} font(s); drawn/checked in "
          f"{time.perf_counter() - started:.1f} s")

    rows = {}
    for label, augment in RUNS:
        rows[label] = run(data, args.epochs, augment)
        row = rows[label]
        print(f"  {label}: augment={row['augment']!r}, best {row['best']:.2f}%, final "
              f"{row['final']:.2f}%, {row['seconds']:.1f} s; per epoch "
              f"{', '.join(f'{a:.1f}' for a in row['per_epoch'])}", flush=True)
    default = rows[RUNS[0][0]]
    print(f"\nFlip decision of the defaults, as train() printed it:\n  {default['printed']}")

    off, on = rows[RUNS[1][0]], rows[RUNS[2][0]]
    print(f"\nLeNet, {args.epochs} epochs, digits 0-9 "
          f"({args.per_class} + {args.val_per_class} per class)")
    print("| run | augment used | best val top-1 | final val top-1 | wall time | "
          "best vs flip off |")
    print("|---|---|---:|---:|---:|---:|")
    for label, row in rows.items():
        print(f"| {label} | {row['augment']!r} | {row['best']:.2f}% | {row['final']:.2f}% | "
              f"{row['seconds']:.1f} s | {row['best'] - off['best']:+.2f} points |")
    print(f"\nTime: defaults {default['seconds'] / off['seconds']:.2f}x flip off; flip on "
          f"{on['seconds'] / off['seconds']:.2f}x flip off. Load average after: "
          f"{os.getloadavg()[0]:.2f} (1 minute); whole benchmark "
          f"{time.perf_counter() - started:.0f} s.")
    met = default["best"] >= off["best"] and default["final"] >= off["final"]
    print(f"\ndefaults >= flip off: {'met' if met else 'not met'} (best {default['best']:.2f}% vs "
          f"{off['best']:.2f}%, final {default['final']:.2f}% vs {off['final']:.2f}%; the defaults "
          f"chose augment={default['augment']!r})")
    print(f"flip on vs flip off: {on['best'] - off['best']:+.2f} points best, "
          f"{on['final'] - off['final']:+.2f} points final")


if __name__ == "__main__":
    main()
