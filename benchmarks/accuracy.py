"""Accuracy with default settings: Classifier(backbone).train(epochs=N) on the benchmark data.

    python benchmarks/accuracy.py                 # LeNet, 5 epochs, Fashion-MNIST
    python benchmarks/accuracy.py --data ../shared/datasets/rps28 --epochs 10
"""
import argparse
import shutil
import tempfile
from pathlib import Path

from common import Timer, benchmark_data, quietly
from easycls import Classifier


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="LeNet")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", default=None, help="a data set folder (default: Fashion-MNIST)")
    args = parser.parse_args()
    root = Path(args.data) if args.data else benchmark_data()
    save = tempfile.mkdtemp()
    try:
        model = Classifier(args.backbone)
        quietly(model.load_dataset, root)
        with Timer() as timer:
            history = quietly(model.train, epochs=args.epochs, verbose=False, save_fold=save)
    finally:
        shutil.rmtree(save)
    accuracies = [line["accuracy_top-1"] for line in history if line["mode"] == "val"]
    print(f"{args.backbone}, {args.epochs} epochs, default settings, on {root}: "
          f"val top-1 per epoch {accuracies}; final {accuracies[-1]:.2f}% in {timer.seconds:.0f} s")


if __name__ == "__main__":
    main()
