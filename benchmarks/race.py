"""Time to accuracy: easycls against Ultralytics' classifier, one after the other, same data.

    python benchmarks/race.py                        # rps28 and Fashion-MNIST 10k, 10 epochs
    python benchmarks/race.py --data rps28 --epochs 10

Each side trains from scratch with its library's defaults on the same training
pictures and is scored on the same held-out split, in a process of its own, on
this machine with the same threads:

- easycls: `Classifier('LeNet')` (the classroom default) and `Classifier('FastNet')`
  (the small-picture preset), `train(epochs=N)`, nothing else set;
- both sides compute with torch's thread count of this machine. Ultralytics' own
  default on a CPU is one thread fewer than the cores (one of two here, the other
  left to its loader workers); the race gives it the same threads as easycls, as
  the issue asks, and `--peer-own-threads` leaves its default instead;
- Ultralytics: YOLOv8n-cls built from `yolov8n-cls.yaml` (random weights, nothing
  downloaded), `train(epochs=N, batch=64, imgsz=<median picture side>)`. Its own
  default imgsz, 224, would enlarge 28-px pictures 64 times in area; it rounds the
  size up to its stride of 32. `plots=False` keeps it off the network (its plots
  download a font) and only spares it time.

Selection protocol, both sides: the best checkpoint's top-1 on the held-out split
(easycls's best_accuracy_top-1.pth, Ultralytics' best.pt, which it picks by the mean
of top-1 and top-5), plus the final epoch's. Wall time: loading the data (decoding,
scanning) and training, validation included, as a user waits for it.

Ultralytics is installed once into benchmarks/.peer/ultralytics (git-ignored; never
an easycls dependency) with pip, without dependencies: it uses the torch, torchvision,
OpenCV and NumPy already here. When it cannot be installed or imported, its rows
say why and the race shows easycls alone.

Data (made once under benchmarks/data/race/, git-ignored):
- rps28: ../shared/datasets/rps28, train/ for training, test/ held out;
- fashion10k: Fashion-MNIST (Debian package dataset-fashion-mnist), the first 1,000
  training pictures of each class (10,000), held out: the whole 10,000-picture test set.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_DIR = HERE / ".peer" / "ultralytics"
CACHE = HERE / "data" / "race"
RPS28 = ROOT.parent / "shared" / "datasets" / "rps28"
PER_CLASS = 1000  # Fashion-MNIST training pictures of each class
BASE = {"rps28": "the data set's train/ and test/", "fashion10k": "Fashion-MNIST"}


# ------------------------------------------------------------------------ data

def copy_class_folders(source: Path, target: Path, limit=None) -> None:
    """source/<class>/* into target/<class>/, the first `limit` files of each in name order."""
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        (target / folder.name).mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir())[:limit]:
            shutil.copyfile(path, target / folder.name / path.name)


def prepared(name: str) -> Path:
    """The data set in easycls's layout (training_set/, val_set/), made once; None if absent."""
    target, done = CACHE / name, CACHE / f"{name}.done"
    if done.exists():
        return target
    if name == "rps28":
        if not RPS28.is_dir():
            return None
        train, held_out, limit = RPS28 / "train", RPS28 / "test", None
    else:
        sys.path.insert(0, str(HERE))
        from common import FASHION_MNIST_DIR, benchmark_data
        if not os.path.isdir(FASHION_MNIST_DIR):
            return None
        full = benchmark_data()
        train, held_out, limit = full / "training_set", full / "val_set", PER_CLASS
    shutil.rmtree(target, ignore_errors=True)
    copy_class_folders(train, target / "training_set", limit)
    copy_class_folders(held_out, target / "val_set")
    # Ultralytics reads train/<class>/ and val/<class>/: the same files, through links.
    peer = peer_layout(target)
    shutil.rmtree(peer, ignore_errors=True)
    peer.mkdir()
    (peer / "train").symlink_to(target / "training_set", target_is_directory=True)
    (peer / "val").symlink_to(target / "val_set", target_is_directory=True)
    done.touch()
    return target


def peer_layout(data: Path) -> Path:
    return data.with_name(data.name + "_ultralytics")


def median_side(folder: Path) -> int:
    from PIL import Image

    paths = sorted(folder.glob("*/*"))[::50]
    return sorted(min(Image.open(p).size) for p in paths)[len(paths) // 2]


# ----------------------------------------------------------------------- sides

def easycls_side(data: Path, backbone: str, epochs: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import logging

    from easycls import Classifier
    logging.getLogger("easycls").setLevel(logging.WARNING)
    save_fold = tempfile.mkdtemp(prefix="race_easycls_")
    try:
        started = time.perf_counter()
        model = Classifier(backbone)
        model.load_dataset(data)
        history = model.train(epochs=epochs, save_fold=save_fold, verbose=False)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(save_fold, ignore_errors=True)
    top1 = [line["accuracy_top-1"] for line in history if line["mode"] == "val"]
    return {"best": max(top1), "final": top1[-1], "seconds": seconds, "per_epoch": top1}


def peer_environment(config: Path) -> dict:
    """Ultralytics kept offline: settings in a folder of its own, no pip, no online checks."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(PEER_DIR), os.environ.get(
        "PYTHONPATH", "")]), "YOLO_CONFIG_DIR": str(config), "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "False", "YOLO_VERBOSE": "False"}


def ultralytics_side(data: Path, epochs: int, imgsz: int, own_threads: bool) -> dict:
    import csv

    import torch
    from ultralytics import YOLO, settings
    from ultralytics.utils import torch_utils
    settings.update({"sync": False})
    if not own_threads:  # it sets torch's threads to this when it picks the CPU
        torch_utils.NUM_THREADS = torch.get_num_threads()
    project = tempfile.mkdtemp(prefix="race_ultralytics_")
    try:
        started = time.perf_counter()
        model = YOLO("yolov8n-cls.yaml")
        model.train(data=str(peer_layout(data)), epochs=epochs, batch=64, imgsz=imgsz,
                    pretrained=False, plots=False, project=project, name="run", device="cpu")
        seconds = time.perf_counter() - started
        with open(Path(project) / "run" / "results.csv") as file:
            rows = [{key.strip(): value for key, value in row.items()} for row in csv.DictReader(file)]
    finally:
        shutil.rmtree(project, ignore_errors=True)
    top1 = [100 * float(row["metrics/accuracy_top1"]) for row in rows]
    fitness = [float(row["metrics/accuracy_top1"]) + float(row["metrics/accuracy_top5"])
               for row in rows]
    return {"best": top1[fitness.index(max(fitness))], "final": top1[-1], "seconds": seconds,
            "per_epoch": top1}


def ensure_peer() -> str:
    """None when Ultralytics imports from PEER_DIR, else why it cannot."""
    check = [sys.executable, "-c", "import ultralytics"]
    env = peer_environment(PEER_DIR.parent / "config")
    if subprocess.run(check, env=env, capture_output=True).returncode == 0:
        return None
    print(f"Installing Ultralytics into {PEER_DIR} (once, for this benchmark only) ...")
    # Without dependencies: the torch, torchvision, OpenCV and NumPy of this machine.
    packages = ["ultralytics", "ultralytics-thop", "ultralytics-platform", "psutil", "polars",
                "polars-runtime-32", "nvidia-ml-py"]
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              "--target", str(PEER_DIR), *packages], capture_output=True, text=True)
    if install.returncode != 0:
        return f"pip could not install it: {install.stderr.strip().splitlines()[-1:]}"
    imported = subprocess.run(check, env=env, capture_output=True, text=True)
    if imported.returncode != 0:
        return f"it does not import: {imported.stderr.strip().splitlines()[-1:]}"
    return None


def run_side(side: str, data: Path, epochs: int, extra: str, flags=()) -> dict:
    """One side in a process of its own, so neither inherits the other's imports or memory."""
    command = [sys.executable, __file__, "--side", side, "--data-path", str(data),
               "--epochs", str(epochs), "--extra", extra, *flags]
    env = peer_environment(PEER_DIR.parent / "config") if side == "ultralytics" else os.environ
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}


# ---------------------------------------------------------------------- report

def race(name: str, data: Path, epochs: dict, peer_problem: str, peer_flags=()) -> dict:
    side = median_side(data / "training_set")
    rows = {}
    for label, backbone in (("easycls LeNet (default)", "LeNet"), ("easycls FastNet", "FastNet")):
        rows[label] = run_side("easycls", data, epochs[backbone], backbone)
        print(f"  {label}: {summary(rows[label])}", flush=True)
    label = "Ultralytics YOLOv8n-cls"
    rows[label] = ({"error": peer_problem} if peer_problem else
                   run_side("ultralytics", data, epochs["Ultralytics"], str(side), peer_flags))
    print(f"  {label}: {summary(rows[label])}", flush=True)
    return rows


def summary(row: dict) -> str:
    if "error" in row:
        return f"skipped ({row['error']})"
    return (f"best {row['best']:.2f}%, final {row['final']:.2f}%, {row['seconds']:.1f} s; "
            f"per epoch {', '.join(f'{a:.1f}' for a in row['per_epoch'])}")


def table(name: str, rows: dict, epochs: dict) -> str:
    peer = rows["Ultralytics YOLOv8n-cls"]
    lines = [f"\n{name}", "| side | epochs | best top-1 | final top-1 | wall time | time vs "
             "Ultralytics | best vs Ultralytics |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label, row in rows.items():
        if "error" in row:
            lines.append(f"| {label} | | skipped: {row['error']} | | | | |")
            continue
        key = label.split()[1] if label.startswith("easycls") else "Ultralytics"
        ratio = (f"{row['seconds'] / peer['seconds']:.2f}x" if "error" not in peer else "-")
        gain = (f"{row['best'] - peer['best']:+.2f} points" if "error" not in peer else "-")
        lines.append(f"| {label} | {epochs[key]} | {row['best']:.2f}% | {row['final']:.2f}% | "
                     f"{row['seconds']:.1f} s | {ratio} | {gain} |")
    return "\n".join(lines)


def verdicts(name: str, rows: dict) -> list:
    """The issue's bars, each with what was measured."""
    lenet, fast = rows["easycls LeNet (default)"], rows["easycls FastNet"]
    peer = rows["Ultralytics YOLOv8n-cls"]
    if any("error" in row for row in (lenet, fast, peer)):
        return [f"{name}: bars not judged (a side did not run)"]
    time_ratio = fast["seconds"] / peer["seconds"]
    if name == "rps28":
        bars = [("FastNet best >= 99%", fast["best"] >= 99, f"{fast['best']:.2f}%"),
                ("default LeNet best >= 95%", lenet["best"] >= 95, f"{lenet['best']:.2f}%")]
    else:
        bar = max(peer["best"], lenet["best"]) + 2
        bars = [(f"FastNet best >= max(Ultralytics, LeNet) + 2 = {bar:.2f}%", fast["best"] >= bar,
                 f"{fast['best']:.2f}%")]
    bars.append(("FastNet time <= 0.5x Ultralytics", time_ratio <= 0.5, f"{time_ratio:.2f}x"))
    return [f"{name}: {'PASS' if ok else 'FAIL'} {what} ({measured})" for what, ok, measured in bars]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=["rps28", "fashion10k", "all"], default="all")
    parser.add_argument("--epochs", type=int, default=10, help="for LeNet and Ultralytics")
    parser.add_argument("--fast-epochs", type=int, default=None,
                        help="for FastNet (default: the same as --epochs)")
    parser.add_argument("--peer-own-threads", action="store_true",
                        help="let Ultralytics compute with its own default threads (cores - 1)")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # one side, run by the race itself
    parser.add_argument("--data-path", help=argparse.SUPPRESS)
    parser.add_argument("--extra", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        data = Path(args.data_path)
        result = (easycls_side(data, args.extra, args.epochs) if args.side == "easycls" else
                  ultralytics_side(data, args.epochs, int(args.extra), args.peer_own_threads))
        print("RESULT " + json.dumps(result))
        return
    import torch

    epochs = {"LeNet": args.epochs, "FastNet": args.fast_epochs or args.epochs,
              "Ultralytics": args.epochs}
    names = ["rps28", "fashion10k"] if args.data == "all" else [args.data]
    print(f"Machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads (Ultralytics: {'its own default' if args.peer_own_threads else 'the same'}); "
          f"load average before: {os.getloadavg()[0]:.2f}")
    peer_problem = ensure_peer()
    results, tables = {}, []
    for name in names:
        data = prepared(name)
        if data is None:
            print(f"\n{name}: skipped, {BASE[name]} is not on this computer.")
            continue
        print(f"\n{name} ({data}):", flush=True)
        results[name] = race(name, data, epochs, peer_problem,
                             ["--peer-own-threads"] if args.peer_own_threads else [])
        tables.append(table(name, results[name], epochs))
    print(f"\nLoad average after: {os.getloadavg()[0]:.2f} (1 minute), "
          f"{os.getloadavg()[1]:.2f} (5 minutes)")
    print("\n".join(tables))
    print("\n" + "\n".join(line for name in results for line in verdicts(name, results[name])))


if __name__ == "__main__":
    main()
