"""Every backbone in sota() with its defaults, from scratch, on 1,000 Fashion-MNIST pictures.

    python benchmarks/backbones.py                  # 5 epochs, every backbone
    python benchmarks/backbones.py --epochs 5 --backbones LeNet FastNet ResNet18
    python benchmarks/backbones.py --pictures 400 --epochs 2   # the first 400 pictures

Each backbone: `Classifier(name).train(epochs=N)` with nothing else set, on the first
1,000 training pictures (or --pictures), scored on as many test pictures (chance: 10%).
Prints best and final top-1, the wall time (decoding included) and the time as a
ratio to LeNet's, measured in this run, as a Markdown table.
"""
import argparse
import os
import shutil
import tempfile
import time

from common import benchmark_data, quietly

from easycls import Classifier


def train_one(backbone: str, root, epochs: int) -> dict:
    save_fold = tempfile.mkdtemp(prefix="backbones_")
    try:
        started = time.perf_counter()
        model = Classifier(backbone)
        quietly(model.load_dataset, root)
        history = quietly(model.train, epochs=epochs, verbose=False, save_fold=save_fold)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(save_fold, ignore_errors=True)
    top1 = [line["accuracy_top-1"] for line in history if line["mode"] == "val"]
    return {"best": max(top1), "final": top1[-1], "seconds": seconds,
            "backed_off": sum(1 for line in history if "diverged_loss" in line)}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--backbones", nargs="*", default=Classifier.sota())
    parser.add_argument("--pictures", type=int, default=1000)
    args = parser.parse_args()
    root = benchmark_data(limit=args.pictures)
    print(f"{args.pictures} Fashion-MNIST pictures, {args.epochs} epochs, defaults; load average "
          f"before: {os.getloadavg()[0]:.2f}")
    rows = {}
    for backbone in args.backbones:
        rows[backbone] = train_one(backbone, root, args.epochs)
        print(f"  {backbone}: {rows[backbone]}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    base = rows.get("LeNet", next(iter(rows.values())))["seconds"]
    print("| backbone | best top-1 | final top-1 | wall time | vs LeNet | restarts at a lower lr |")
    print("|---|---:|---:|---:|---:|---:|")
    for backbone, row in rows.items():
        print(f"| {backbone} | {row['best']:.1f}% | {row['final']:.1f}% | {row['seconds']:.0f} s | "
              f"{row['seconds'] / base:.1f}x | {row['backed_off']} |")


if __name__ == "__main__":
    main()
