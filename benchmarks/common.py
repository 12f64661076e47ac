"""Shared set-up for the benchmarks: the data set and a timer.

Data: Fashion-MNIST from Debian's dataset-fashion-mnist package, converted once
to the ImageNet layout in benchmarks/data/ (ignored by git). Without the package,
a synthetic hand-gesture set of the same picture size stands in, and the
benchmark says so.
"""
import contextlib
import io
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from easycls.data.convert import FASHION_MNIST_DIR, fashion_mnist_to_folder  # noqa: E402
from easycls.data.synthetic import make_hand_gestures  # noqa: E402


def benchmark_data(limit=None) -> Path:
    """Path of the benchmark data set, made on first use."""
    if os.path.isdir(FASHION_MNIST_DIR):
        target = HERE / "data" / (f"fashion_mnist_{limit}" if limit else "fashion_mnist")
        if not (target / "val.txt").exists():
            print(f"Converting Fashion-MNIST to {target} (once) ...")
            fashion_mnist_to_folder(target, limit=limit)
        return target
    print("Fashion-MNIST not found (apt-get install dataset-fashion-mnist); using synthetic "
          "hand gestures at 28 px instead.")
    target = HERE / "data" / "hand_gestures_28"
    if not (target / "val.txt").exists():
        make_hand_gestures(target, train_per_class=(limit or 6000) // 3, val_per_class=1000,
                           test_per_class=0, size=28)
    return target


def quietly(function, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def report(title: str, rows, baseline: str) -> None:
    """Print images/s per method and the ratio to `baseline`, measured in this run."""
    base = dict(rows)[baseline]
    print(f"\n{title}")
    for name, rate in rows:
        print(f"  {name:<44} {rate:>9.0f} images/s   {rate / base:5.2f}x {baseline}")
