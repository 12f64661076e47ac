"""Write docs/api.md from the public docstrings and the command line's help: `python docs/make_api.py`.

The docstrings are the source: tests/test_docs.py runs every example they hold and
fails when docs/api.md differs from what this script writes, so a changed docstring
needs `python docs/make_api.py` before CI passes.
"""
import argparse
import inspect
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # a checkout that is not installed documents itself

import easycls  # noqa: E402
from easycls import Classifier, datasets  # noqa: E402

API_PAGE = DOCS / "api.md"
HELP_WIDTH = "100"  # argparse wraps help to the terminal: fixed, so the page does not depend on it

PREFACE = """\
# API reference

Every public method of `Classifier`, every function of `easycls` and every command of
`easycls` on the command line, each with an example. This page is written by
`python docs/make_api.py` from the docstrings and the command line's help;
`tests/test_docs.py` runs each example in a copy of the repository folder and fails
when this page is not what the script writes.

The examples run in the repository's folder: the bundled data set `dataset/hand_gray`,
the pictures in `demo/` and the trained checkpoint `checkpoints/lenet_hand_gray.pth`.
They start from `import easycls` and `from easycls import Classifier as cls`. Those that
read `checkpoints/hand_gray/` expect a run there, as
`model.train(epochs=1, save_fold='checkpoints/hand_gray')` writes (the test makes one). A
`>>>` line shows what the call returns; what easycls prints on the way is left out. Lines
marked `# doctest: +SKIP` need a camera or the tensorboard package and are not run.
"""


def classifier_entries():
    """(heading, object) for the class and each public method and property, in source order."""
    entries = [("Classifier(backbone='LeNet', num_classes=None, device='auto')", Classifier)]
    for name, member in vars(Classifier).items():
        if name.startswith("_") or name.isupper():
            continue
        if isinstance(member, property):
            entries.append((f"model.{name}", member))
            continue
        function = getattr(Classifier, name)
        owner = "cls" if isinstance(member, (staticmethod, classmethod)) else "model"
        entries.append((f"{owner}.{name}{_signature(function, drop_self=owner == 'model')}", function))
    return entries


def function_entries():
    """(heading, function) for each function easycls exports, in the order of __all__."""
    return [(f"easycls.{name}{_signature(getattr(easycls, name))}", getattr(easycls, name))
            for name in easycls.__all__ if inspect.isfunction(getattr(easycls, name))]


def dataset_entries():
    """The converters' module: its example calls each of them (render() adds their docs)."""
    return [("from easycls import datasets", datasets)]


def module_functions(module):
    """(heading, function) for each function a module exports."""
    return [(f"{module.__name__.split('.')[-1]}.{name}{_signature(getattr(module, name))}",
             getattr(module, name))
            for name in module.__all__ if inspect.isfunction(getattr(module, name))]


def callback_entries():
    return [("easycls.Callback", easycls.Callback),
            ("easycls.TensorBoardLogger(log_dir=None)", easycls.TensorBoardLogger)]


SECTIONS = [("The model: `Classifier`", classifier_entries),
            ("Functions of `easycls`", function_entries),
            ("Data set converters: `easycls.datasets`", dataset_entries),
            ("Callbacks", callback_entries)]


def documented():
    """Every (heading, object) the page documents; the test runs the examples of each."""
    return [entry for _, entries in SECTIONS for entry in entries()]


def _signature(function, drop_self: bool = False) -> str:
    signature = inspect.signature(function)
    if drop_self:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return str(signature).split(" -> ")[0]


def render_docstring(doc: str) -> str:
    """Prose as Markdown, an `Example:` block as a pycon block, other indented blocks as text."""
    lines, out, block, kind = inspect.cleandoc(doc).splitlines(), [], [], None

    def flush():
        nonlocal block, kind
        if block:
            while block and not block[-1].strip():
                block.pop()
            out.extend([f"```{kind}", *_dedent(block), "```", ""])
        block, kind = [], None

    for line in lines + [""]:
        if kind is not None and (line.startswith(" ") or not line.strip()):
            block.append(line)
            continue
        flush()
        if line.strip() in ("Example:", "Examples:"):
            kind = "pycon"
        elif line.startswith(" "):
            kind = "text"
            block.append(line)
        else:
            out.append(_escape(line))
    flush()
    return "\n".join(out).strip() + "\n"


def _dedent(lines):
    margin = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return [line[margin:] for line in lines]


def _escape(line: str) -> str:
    """Markdown would take <words> for HTML tags and drop them."""
    parts = re.split(r"(`[^`]*`)", line)  # code spans stay as they are
    return "".join(part if part.startswith("`") else part.replace("<", "&lt;") for part in parts)


def command_line() -> str:
    """`easycls --help`, then each command's help and the examples of easycls --help for it."""
    from easycls.cli import EPILOG, build_parser

    os.environ["COLUMNS"] = HELP_WIDTH
    parser = build_parser()
    examples = [line.strip() for line in EPILOG.splitlines() if line.strip().startswith("easycls ")]
    out = ["## The command line", "",
           "`easycls` (or `python -m easycls`) does the same work from a terminal. Exit codes: 0 "
           "done, 1 a problem easycls explains in one message (`--debug` shows the traceback), 2 "
           "wrong arguments, 130 stopped with Ctrl-C.", "",
           "```text", "$ easycls --help", parser.format_help().rstrip(), "```", ""]
    for name, command in parser.commands.items():
        mine = [line for line in examples if line.split()[1] == name]
        out += [f"### `easycls {name}`", "", "```text", f"$ easycls {name} --help",
                command.format_help().rstrip(), "```", ""]
        if mine:
            out += ["```bash", *mine, "```", ""]
    return "\n".join(out)


def command_examples():
    """Each example command of `easycls --help`, as its argument list."""
    from easycls.cli import EPILOG

    return [line.split()[1:] for line in EPILOG.splitlines() if line.strip().startswith("easycls ")]


def render() -> str:
    out = [PREFACE]
    for title, entries in SECTIONS:
        out += [f"## {title}", ""]
        for heading, item in entries():
            out += [f"### `{heading}`", "", render_docstring(item.__doc__ or "")]
            for function_heading, function in module_functions(item) if inspect.ismodule(item) else []:
                out += [f"#### `{function_heading}`", "", render_docstring(function.__doc__)]
    out.append(command_line())
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    API_PAGE.write_text(render(), encoding="utf-8")
    print(f"Wrote {API_PAGE}")


if __name__ == "__main__":
    main()
