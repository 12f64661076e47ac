"""The backbones table of docs/backbones.md: every registered backbone with its default input,
parameters, FLOPs and measured CPU inference speed, printed as Markdown.

    python benchmarks/backbone_table.py [--batch 32] [--seconds 3]

Speed: forward passes in eval mode under torch.inference_mode on random input of the
default size, batch --batch, after one warm-up pass; the best of three timings of at
least --seconds / 3 each (the least disturbed one on a shared machine), reported as
images/s and as a ratio to LeNet measured in the same run. FLOPs come from
Classifier.sota(details=True) (torch.utils.flop_counter; a multiply-add is 2 FLOPs).
"""
import argparse
import platform
import time

import torch
from common import quietly

from easycls import Classifier
from easycls.models import create_model


def images_per_second(name: str, channels: int, size: int, batch: int, seconds: float) -> float:
    net = create_model(name, 10, channels).eval()
    pictures = torch.rand(batch, channels, size, size)
    with torch.inference_mode():
        net(pictures)  # warm-up: allocation and kernel choice
        best = 0.0
        for _ in range(3):
            passes, started = 0, time.perf_counter()
            while passes == 0 or time.perf_counter() - started < seconds / 3:
                net(pictures)
                passes += 1
            best = max(best, passes * batch / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per backbone")
    args = parser.parse_args()
    table = quietly(Classifier.sota, details=True)
    rates = {row["name"]: images_per_second(row["name"], row["channels"], row["image_size"],
                                            args.batch, args.seconds) for row in table}
    baseline = rates[table[0]["name"]]
    print(f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, batch {args.batch}, 10 classes\n")
    print("| backbone | default input | parameters | FLOPs per picture | CPU images/s "
          f"| vs {table[0]['name']} |")
    print("|---|---|---:|---:|---:|---:|")
    for row in table:
        rate = rates[row["name"]]
        channels = "gray or RGB" if row["channels_follow_data"] else (
            "gray" if row["channels"] == 1 else "RGB")
        print(f"| {row['name']} | {row['image_size']} px, {channels} | {row['parameters']:,} "
              f"| {row['flops'] / 1e6:,.1f} M | {rate:,.0f} | {rate / baseline:.3f}x |")


if __name__ == "__main__":
    main()
