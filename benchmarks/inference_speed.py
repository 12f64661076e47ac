"""Inference speed: easycls vs a raw ImageFolder + DataLoader + model(x) loop.

  - folder: images/s classifying the validation pictures, easycls
    fast_inference(list of files) against ImageFolder + DataLoader (0 and 2
    workers) feeding model(x) in batches of 64 under torch.inference_mode();
  - single picture: median latency of fast_inference(path) against the bare
    work for one picture (open + resize + normalise + forward).

    python benchmarks/inference_speed.py
    python benchmarks/inference_speed.py --backbone ResNet18 --image-size 64 --limit 2000
"""
import argparse
import shutil
import statistics
import tempfile
import time

import torch
import torchvision
from torchvision import transforms as T

from common import Timer, benchmark_data, quietly, report
from easycls import Classifier
from easycls.data.augment import Normalize
from easycls.data.images import load_for_model
from easycls.data.input_spec import InputSpec
from easycls.data.synthetic import make_hand_gestures


def trained_model(backbone, image_size):
    """A model with real weights: one epoch on a small synthetic set (speed is what counts)."""
    folder = tempfile.mkdtemp()
    try:
        data = make_hand_gestures(f"{folder}/data", 20, 5, 0, size=28)
        model = Classifier(backbone)
        quietly(model.load_dataset, data)
        quietly(model.train, epochs=1, image_size=image_size, verbose=False, save_fold=f"{folder}/run")
    finally:
        shutil.rmtree(folder)
    model.net.cpu().eval()
    return model


def raw_loop_rate(model, root, workers):
    meta = model.meta
    transform = T.Compose([
        T.Grayscale(1) if meta["in_channels"] == 1 else T.Lambda(lambda im: im.convert("RGB")),
        T.Resize((meta["image_size"], meta["image_size"])), T.ToTensor(),
        T.Normalize(meta["mean"], meta["std"])])
    dataset = torchvision.datasets.ImageFolder(str(root / "val_set"), transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=workers)
    with Timer() as timer, torch.inference_mode():
        for images, _ in loader:
            model.net(images).softmax(dim=1)
    return len(dataset) / timer.seconds


def easycls_rate(model, files):
    with Timer() as timer:
        results = model.fast_inference(files)
    assert len(results) == len(files)
    return len(files) / timer.seconds


def median_seconds(function, repeats=200):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def single_image(model, path):
    meta, net = model.meta, model.net
    normalize = Normalize(meta["mean"], meta["std"])
    spec = InputSpec(meta["image_size"], meta["in_channels"], meta["mean"], meta["std"])

    @torch.inference_mode()
    def bare():
        array = load_for_model(path, spec)
        net(normalize(torch.from_numpy(array)[None])).softmax(dim=1)

    for _ in range(20):  # warm-up
        bare()
        model.fast_inference(path)
    return median_seconds(bare), median_seconds(lambda: model.fast_inference(path))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="LeNet")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    root = benchmark_data(args.limit)
    model = trained_model(args.backbone, args.image_size)
    files = sorted(str(p) for p in (root / "val_set").rglob("*.png"))
    print(f"{args.backbone} at {model.meta['image_size']} px, {len(files)} pictures, "
          f"{torch.get_num_threads()} threads")
    rows = [(f"ImageFolder + DataLoader + model ({w} workers)", raw_loop_rate(model, root, w))
            for w in (0, 2)]
    rows.append(("easycls fast_inference(files)", easycls_rate(model, files)))
    report("Folder inference", rows, "ImageFolder + DataLoader + model (0 workers)")
    best = max(rate for name, rate in rows[:2])
    print(f"  easycls vs best raw loop: {rows[2][1] / best:.2f}x")
    bare, fast = single_image(model, files[0])
    print(f"\nSingle picture (median of 200): bare {bare * 1e3:.2f} ms, fast_inference "
          f"{fast * 1e3:.2f} ms, ratio {fast / bare:.2f}")


if __name__ == "__main__":
    main()
