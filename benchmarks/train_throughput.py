"""Training throughput: easycls vs torchvision ImageFolder + DataLoader vs the compute floor.

All three train the same model with the same batch size, optimizer and
augmentation statistics (random shift with edge padding + horizontal flip):
  - imagefolder: torchvision ImageFolder + DataLoader, per-image PIL transforms;
  - floor: the model on ready-made float tensors in memory, no augmentation;
  - easycls: Classifier(...).train(), which decodes once and augments batches.

    python benchmarks/train_throughput.py                      # LeNet, 32 px
    python benchmarks/train_throughput.py --backbone ResNet18 --image-size 64 --limit 10000
"""
import argparse
import shutil
import tempfile

import torch
import torchvision
from torch import nn
from torchvision import transforms as T

from common import Timer, benchmark_data, quietly, report
from easycls import Classifier, read_log
from easycls.data.cache import decode_split
from easycls.data.folder import read_dataset
from easycls.engine.options import Context, resolve_recipe
from easycls.models import create_model, get_spec


def sgd(model, lr):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                           weight_decay=5e-4)


def repeat(batches):
    """The batches again and again (more epochs), for small data sets."""
    while True:
        yield from batches


def train_steps(model, optimizer, batches, steps):
    """images/s over `steps` batches, after 5 warm-up batches."""
    model.train()
    seen, timer = 0, None
    for step, (images, labels) in enumerate(repeat(batches)):
        if step == 5:
            timer = Timer().__enter__()
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if timer:
            seen += len(labels)
        if step == steps + 5:
            break
    timer.__exit__()
    return seen / timer.seconds


def imagefolder_rate(root, recipe, workers, steps):
    pad = max(1, round(recipe.image_size * 0.0625))
    transform = T.Compose([
        T.Grayscale(1) if recipe.channels == 1 else T.Lambda(lambda im: im.convert("RGB")),
        T.Resize((recipe.image_size, recipe.image_size)),
        T.RandomCrop(recipe.image_size, padding=pad, padding_mode="edge"),
        T.RandomHorizontalFlip(), T.ToTensor(),
        T.Normalize(recipe.input_spec.mean, recipe.input_spec.std)])
    dataset = torchvision.datasets.ImageFolder(str(root / "training_set"), transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=recipe.batch_size, shuffle=True,
                                         num_workers=workers, drop_last=True)
    model = create_model(recipe.backbone, len(dataset.classes), recipe.channels)
    return train_steps(model, sgd(model, recipe.lr), loader, steps), len(dataset)


def floor_rate(dataset, recipe, steps):
    split = decode_split(dataset.splits["train"][: recipe.batch_size * (steps + 6)],
                         recipe.input_spec)
    mean = torch.tensor(recipe.input_spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(recipe.input_spec.std).view(1, -1, 1, 1)
    images = (split.images.float() / 255 - mean) / std
    batches = [(images[i:i + recipe.batch_size], split.labels[i:i + recipe.batch_size])
               for i in range(0, len(images), recipe.batch_size)]
    model = create_model(recipe.backbone, len(dataset.classes), recipe.channels)
    optimizer = sgd(model, recipe.lr)
    # Best of two passes: the first also pays for memory allocation and caches warming.
    return max(train_steps(model, optimizer, batches, steps),
               train_steps(model, optimizer, batches, steps))


def easycls_rates(root, args):
    """(steady images/s of epoch 2, first epoch seconds including decoding)."""
    save = tempfile.mkdtemp()
    try:
        model = Classifier(args.backbone)
        quietly(model.load_dataset, root)
        quietly(model.train, epochs=2, batch_size=args.batch_size, image_size=args.image_size,
                validate=False, verbose=False, save_fold=save)
        log = read_log(f"{save}/log.json")
    finally:
        shutil.rmtree(save)
    lines = [line for line in log if line.get("mode") == "train"]

    def epoch_seconds(epoch):
        previous = 0
        total = 0.0
        for line in (line for line in lines if line["epoch"] == epoch):
            total += line["time"] * (line["iter"] - previous)
            previous = line["iter"]
        return total, previous

    seconds2, iters = epoch_seconds(2)
    seconds1, _ = epoch_seconds(1)
    return iters * args.batch_size / seconds2, log[0]["decode_seconds"] + seconds1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="LeNet")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="images per split")
    parser.add_argument("--steps", type=int, default=200, help="batches timed for the baselines")
    args = parser.parse_args()
    root = benchmark_data(args.limit)
    dataset = read_dataset(root, notify=lambda _: None)
    spec = get_spec(args.backbone)
    context = Context(spec, len(dataset.classes), len(dataset.splits["train"]),
                      data_is_gray=True, data_side=28)
    given = {"epochs": 2, "batch_size": args.batch_size, "image_size": args.image_size}
    recipe = resolve_recipe(context, {k: v for k, v in given.items() if v is not None})
    args.image_size = recipe.image_size
    print(f"{args.backbone} at {recipe.image_size} px, batch {recipe.batch_size}, "
          f"{len(dataset.splits['train'])} training images, {torch.get_num_threads()} threads")
    # Worker processes of the DataLoader runs would slow what runs after them: they go last.
    # The floor is measured before and after easycls and the better figure kept, so that a
    # noisy moment on a shared machine does not flatter easycls.
    floor = floor_rate(dataset, recipe, args.steps)
    steady, first_epoch = easycls_rates(root, args)
    floor = max(floor, floor_rate(dataset, recipe, args.steps))
    rows = []
    for workers in (0, 2):
        rate, count = imagefolder_rate(root, recipe, workers, args.steps)
        rows.append((f"ImageFolder + DataLoader ({workers} workers)", rate))
    baseline_rate = max(rate for _, rate in rows)
    rows += [("compute floor (tensors in memory, no augment)", floor),
             ("easycls train (epoch 2, augment on)", steady)]
    report("Training throughput", rows, "ImageFolder + DataLoader (0 workers)")
    baseline_epoch = count / baseline_rate
    print(f"  easycls vs best ImageFolder: {steady / baseline_rate:.2f}x; vs floor: {steady / floor:.2f}x")
    print(f"  first epoch incl. decoding: {first_epoch:.1f} s; best ImageFolder epoch "
          f"{baseline_epoch:.1f} s (ratio {first_epoch / baseline_epoch:.2f})")


if __name__ == "__main__":
    main()
