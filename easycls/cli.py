"""The `easycls` command (also `python -m easycls`): the facade's work from a terminal.

Every command calls the public API only. Exit codes: 0 done, 1 a problem easycls
explains (one readable message on stderr; the traceback with --debug), 2 bad
arguments, 130 stopped by Ctrl-C.
"""
import argparse
import difflib
import sys
from typing import List, Optional

EPILOG = """examples:
  easycls models --details
  easycls check dataset/hand_gray
  easycls check dataset/hand_gray --labels --save suspects.png
  easycls train dataset/hand_gray --backbone LeNet --epochs 10 --save-fold checkpoints/hand
  easycls infer checkpoints/hand/best_accuracy_top-1.pth demo/ --out results.csv
  easycls eval checkpoints/hand/best_accuracy_top-1.pth dataset/hand_gray --out test.csv
  easycls export checkpoints/hand/best_accuracy_top-1.pth --format onnx
  easycls app checkpoints/hand/best_accuracy_top-1.pth
  easycls convert split photos/ dataset/photos --val 0.2 --test 0.1

'easycls COMMAND --help' tells more about each command."""

# train() options the command line sets in its own way, or not at all.
TRAIN_OWN = {"save_fold", "verbose", "callbacks", "device"}


def _value(text: str):
    """A typed value from the command line: numbers, true/false, lists as 1,5 ('auto' and
    names stay text); train()'s own checks then say what is wrong with it."""
    if "," in text:
        return [_value(part) for part in text.split(",") if part.strip()]
    lowered = text.strip().lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    from .engine.options import OPTIONS

    group = parser.add_argument_group("training options (unset ones are chosen for the backbone "
                                      "and the data, and printed)")
    for option in OPTIONS:
        if option.name in TRAIN_OWN or option.name == "epochs":
            continue
        flag = "--" + option.name.replace("_", "-")
        if isinstance(option.default, bool):
            group.add_argument(flag, dest=option.name, action=argparse.BooleanOptionalAction,
                               default=None, help=f"{option.help} (default: {option.default})")
        else:
            shown = option.default if option.default is not None else (
                "chosen" if option.choose else "none")
            group.add_argument(flag, dest=option.name, type=_value, default=None, metavar="VALUE",
                               help=f"{option.help} (default: {shown})")


def _add_device_and_lang(parser: argparse.ArgumentParser, lang_shows: str) -> None:
    parser.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda', ...")
    parser.add_argument("--lang", choices=("en", "zh"),
                        help=f"{lang_shows} (default: EASYCLS_LANG, else en)")


def build_parser() -> argparse.ArgumentParser:
    from .version import __version__

    parser = argparse.ArgumentParser(
        prog="easycls", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Image classification for classrooms and makers: train, classify, evaluate "
                    "and export models on an ImageNet-style folder of pictures.")
    parser.add_argument("--version", action="version", version=f"easycls {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when something goes wrong")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands = commands.choices  # name -> its parser, to explain a misspelt flag

    def command(name, help_text, description=None):
        sentence = help_text[0].upper() + help_text[1:] + "."
        sub = commands.add_parser(name, help=help_text, description=description or sentence,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show the full traceback when something goes wrong")
        return sub

    sub = command("models", "list the backbones you can train")
    sub.add_argument("--details", action="store_true",
                     help="also each backbone's input, parameters and FLOPs")

    sub = command("check", "check a data set folder for problems before training")
    sub.add_argument("data", help="the data set folder (classes.txt, training_set/, val_set/ ...)")
    sub.add_argument("--full", action="store_true", help="decode every picture (slower, thorough)")
    sub.add_argument("--labels", action="store_true",
                     help="also look for pictures in the wrong class folder (trains --folds quick "
                          "models; needs pip install easycls[labels])")
    sub.add_argument("--backbone", default="LeNet", help="with --labels: the quick models' backbone")
    sub.add_argument("--folds", type=int, default=5, help="with --labels: cross-validation folds")
    sub.add_argument("--out", default=None, help="with --labels: the suspects to a .csv or .json")
    sub.add_argument("--save", default=None, help="with --labels: a picture of the suspects (.png)")
    sub.add_argument("--move-to", default=None,
                     help="with --labels: COPY the suspects into this folder to review")

    sub = command("train", "train a model on a data set folder",
                  "Train a model on a data set folder. Writes log.json and checkpoints "
                  "(latest.pth, best_accuracy_top-1.pth) into --save-fold.")
    sub.add_argument("data", help="the data set folder")
    sub.add_argument("--backbone", default="LeNet", help="see 'easycls models' (default: LeNet)")
    sub.add_argument("--epochs", type=int, default=None,
                     help="passes over the training images (default: chosen from the data "
                          "size, 10 to 100)")
    sub.add_argument("--save-fold", default="checkpoints/cls_model",
                     help="folder for log.json and checkpoints (default: checkpoints/cls_model)")
    sub.add_argument("--num-classes", type=int, default=None,
                     help="expected number of classes (default: from the data set)")
    sub.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'")
    sub.add_argument("--quiet", action="store_true", help="print warnings only")
    _add_train_options(sub)

    sub = command("infer", "classify a picture or a folder of pictures with a checkpoint")
    sub.add_argument("checkpoint", help="a .pth file written by training")
    sub.add_argument("image", help="a picture file or a folder of pictures")
    sub.add_argument("--out", help="also write the results to a .csv or .json file")
    sub.add_argument("--save-fold", default=None,
                     help="write annotated copies of the pictures into this folder")
    sub.add_argument("--recursive", action="store_true", help="also the pictures in sub-folders")
    _add_device_and_lang(sub, "table headers")

    sub = command("eval", "measure a checkpoint on labelled pictures: accuracy, per-class "
                          "precision/recall/F1, confusion matrix")
    sub.add_argument("checkpoint", help="a .pth file written by training")
    sub.add_argument("data", help="a data set folder (its test split, else val), a split folder, "
                                  "or a folder with one sub-folder per class")
    sub.add_argument("--out", help="write one row per picture to a .csv or .json file")
    sub.add_argument("--topk", type=_value, default=None, help="e.g. 1,5")
    _add_device_and_lang(sub, "report headers")

    sub = command("export", "export a checkpoint to ONNX or TorchScript, labels included")
    sub.add_argument("checkpoint", help="a .pth file written by training")
    sub.add_argument("--format", default="onnx", choices=("onnx", "torchscript"),
                     help="file format (default: onnx)")
    sub.add_argument("--out", default=None, help="the file to write (default: beside the "
                                                 "checkpoint, .onnx or .pt)")

    sub = command("app", "try a checkpoint in the browser: a local web page for pictures and "
                         "the webcam (needs pip install easycls[app])")
    sub.add_argument("checkpoint", help="a .pth file written by training")
    sub.add_argument("--host", default="127.0.0.1",
                     help="the address to listen on (default: 127.0.0.1, this computer only; "
                          "0.0.0.0 lets other computers on the network in)")
    sub.add_argument("--port", type=int, default=None,
                     help="the port (default: 7860, or the next free one)")
    sub.add_argument("--share", action="store_true",
                     help="also make a public link through gradio's share servers (needs the "
                          "internet; anyone with the link can use the page)")
    _add_device_and_lang(sub, "the page's language")

    sub = command("info", "show what a checkpoint holds: backbone, classes, input, epochs, "
                          "accuracy, settings")
    sub.add_argument("checkpoint", help="a .pth file")

    sub = command("publish", "write a smaller copy of a checkpoint to share (weights and meta, "
                             "named with its sha256)")
    sub.add_argument("checkpoint", help="a .pth file")
    sub.add_argument("out", help="the name to publish as, e.g. release/hand.pth -> "
                                 "release/hand-1a2b3c4d.pth")

    sub = command("convert", "turn other data set formats into the folder layout easycls reads")
    kinds = sub.add_subparsers(dest="kind", metavar="KIND", required=True)
    kind = kinds.add_parser("split", help="a folder per class (or train/ + test/) into "
                                          "training_set/, val_set/, test_set/")
    kind.add_argument("source")
    kind.add_argument("target")
    kind.add_argument("--val", type=float, default=0.2, help="share held out for validation")
    kind.add_argument("--test", type=float, default=0.1, help="share held out for testing")
    kind.add_argument("--seed", type=int, default=0, help="the same seed gives the same split")
    kind.add_argument("--link", action="store_true", help="link the pictures instead of copying")
    kind = kinds.add_parser("idx", help="MNIST / Fashion-MNIST IDX files (.gz or raw)")
    kind.add_argument("source", help="the folder holding the four IDX files")
    kind.add_argument("target")
    kind.add_argument("--classes", type=_value, default=None,
                      help="class names in label order, e.g. zero,one,two,... (default: 0 to 9)")
    kind = kinds.add_parser("cifar", help="CIFAR-10 / CIFAR-100 python pickles "
                                          "(cifar-10-batches-py, cifar-100-python)")
    kind.add_argument("source")
    kind.add_argument("target")
    return parser


# --------------------------------------------------------------------- commands

def _models(args) -> None:
    from . import Classifier

    if args.details:
        Classifier.sota(details=True)
    else:
        print("\n".join(Classifier.sota()))


def _check(args) -> int:
    from . import check_dataset, find_label_issues

    if not check_dataset(args.data, check="full" if args.full else "quick").ok:
        return 1
    if args.labels:
        find_label_issues(args.data, backbone=args.backbone, folds=args.folds, out=args.out,
                          save=args.save, move_to=args.move_to)
    return 0


def _train(args) -> None:
    from . import Classifier
    from .engine.options import OPTIONS

    model = Classifier(args.backbone, num_classes=args.num_classes, device=args.device)
    model.load_dataset(args.data)
    options = {o.name: getattr(args, o.name) for o in OPTIONS
               if o.name not in TRAIN_OWN and getattr(args, o.name, None) is not None}
    model.train(save_fold=args.save_fold, verbose=not args.quiet, **options)


def _infer(args) -> None:
    from . import Classifier
    from .results import write_results

    model = Classifier.from_checkpoint(args.checkpoint, device=args.device)
    results = model.fast_inference(args.image, show=args.save_fold is not None,
                                   save_fold=args.save_fold or "cls_result", recursive=args.recursive)
    model.print_result(results, lang=args.lang)
    if args.out:
        print(f"Wrote the results to '{write_results(results, args.out)}'.")


def _eval(args) -> None:
    from . import Classifier

    model = Classifier.from_checkpoint(args.checkpoint, device=args.device)
    model.evaluate(args.data, topk=args.topk, out=args.out, lang=args.lang)


def _export(args) -> None:
    from . import Classifier

    Classifier.from_checkpoint(args.checkpoint).convert(backend=args.format, out_file=args.out,
                                                        checkpoint=args.checkpoint)


def _app(args) -> None:
    from . import Classifier

    Classifier.from_checkpoint(args.checkpoint, device=args.device).app(
        host=args.host, port=args.port, share=args.share, lang=args.lang, block=True)


def _info(args) -> None:
    from . import pth_info

    pth_info(args.checkpoint)


def _publish(args) -> None:
    from . import publish

    publish(args.checkpoint, args.out)


def _convert(args) -> None:
    from . import datasets

    if args.kind == "split":
        datasets.split_dataset(args.source, args.target, val=args.val, test=args.test,
                               seed=args.seed, mode="link" if args.link else "copy")
    elif args.kind == "idx":
        datasets.from_idx(args.source, args.target, classes=args.classes)
    else:
        datasets.from_cifar(args.source, args.target)


COMMANDS = {"models": _models, "check": _check, "train": _train, "infer": _infer, "eval": _eval,
            "export": _export, "app": _app, "info": _info, "publish": _publish, "convert": _convert}


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    """The arguments; a flag the command does not have is named with the likely one (exit 2)."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = parser.commands.get(args.command, parser)
        if getattr(args, "kind", None):  # convert split|idx|cifar
            command = command._subparsers._group_actions[0].choices[args.kind]
        flags = [flag for action in command._actions for flag in action.option_strings]
        close = difflib.get_close_matches(unknown[0].split("=")[0], flags, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        command.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)  # exits with 2 on bad arguments, as argparse does
    from .errors import EasyclsError, TrainingInterrupted

    try:
        return COMMANDS[args.command](args) or 0
    except TrainingInterrupted as stop:
        print(f"easycls: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("easycls: stopped (Ctrl-C).", file=sys.stderr)
        return 130
    except (EasyclsError, FileNotFoundError) as error:
        if getattr(args, "debug", False):
            raise
        print(f"easycls: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
