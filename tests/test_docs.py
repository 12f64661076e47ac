"""The examples of the docs run: the public docstrings' `>>>` lines, and the ```python and
```pycon blocks of README.md, README_zh-CN.md and docs/*.md.

A block right after an `<!-- no-test -->` line is not run (a camera, a second computer, a
web page that serves until stopped). Blocks of one page run in order in one namespace,
as the cells of a notebook, in a copy of the repository's bundled data.
"""
import doctest
import logging
import re
import shutil
import sys
from pathlib import Path

import pytest

import easycls
from easycls import Classifier
from test_datasets import make_cifar10, make_idx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "docs"))
import make_api  # noqa: E402

PAGES = [REPO / "README.md", REPO / "README_zh-CN.md",
         *sorted(p for p in (REPO / "docs").glob("*.md") if p.name != "api.md")]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
NOT_RUN = {"model.app": "serves a web page until it is stopped"}
BLOCK = re.compile(r"^(?P<marker><!-- no-test -->\n)?```(?P<kind>python|pycon)\n(?P<code>.*?)^```$",
                   re.M | re.S)


def copy_bundled(folder: Path) -> Path:
    """What the examples may read: the bundled data set, demo pictures and checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "dataset" / "hand_gray", folder / "dataset" / "hand_gray")
    shutil.copytree(REPO / "demo", folder / "demo",
                    ignore=shutil.ignore_patterns("*.py", "*.ipynb", "__pycache__"))
    (folder / "checkpoints").mkdir()
    shutil.copy(REPO / "checkpoints" / "lenet_hand_gray.pth", folder / "checkpoints")
    return folder


@pytest.fixture(scope="module")
def api_folder(tmp_path_factory):
    """The bundled files, a run in checkpoints/hand_gray as train()'s example makes, and tiny
    stand-ins for the downloaded MNIST, Fashion-MNIST and CIFAR-10 files."""
    folder = copy_bundled(tmp_path_factory.mktemp("api"))
    make_idx(folder / "mnist", gz=True)
    make_idx(folder / "fashion_mnist", gz=False)
    make_cifar10(folder / "cifar-10-batches-py")
    model = Classifier("LeNet")
    model.load_dataset(folder / "dataset" / "hand_gray", check=None)
    model.train(epochs=1, save_fold=folder / "checkpoints" / "hand_gray", verbose=False)
    return folder


@pytest.fixture
def quiet():
    """Only warnings: an example's output is what it returns, and a warning fails it."""
    logger = logging.getLogger("easycls")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def run_examples(examples, name: str, namespace: dict) -> None:
    """Runs doctest examples; fails with doctest's report of each example that differs."""
    report = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    test = doctest.DocTest(examples, namespace, name, None, 0, None)
    failed, _ = runner.run(test, out=report.append, clear_globs=False)
    assert failed == 0, "\n".join(report)


def example_globals() -> dict:
    return {"easycls": easycls, "cls": Classifier, "Classifier": Classifier}


def heading_name(heading: str) -> str:
    return heading.split("(")[0]


@pytest.mark.parametrize("heading, item", make_api.documented(),
                         ids=[heading_name(h) for h, _ in make_api.documented()])
def test_each_public_call_has_an_example(heading, item):
    assert "Example:" in (item.__doc__ or "") and ">>> " in item.__doc__, \
        f"{heading_name(heading)}'s docstring needs an 'Example:' with >>> lines"


@pytest.mark.parametrize("heading, item", make_api.documented(),
                         ids=[heading_name(h) for h, _ in make_api.documented()])
def test_each_docstring_example_runs(heading, item, api_folder, monkeypatch, quiet):
    name = heading_name(heading)
    if name in NOT_RUN:
        pytest.skip(NOT_RUN[name])
    monkeypatch.chdir(api_folder)
    examples = doctest.DocTestParser().get_examples(item.__doc__, name)
    run_examples(examples, name, example_globals())


def test_the_converters_example_calls_each_converter():
    calls = [heading.split("(")[0] + "(" for heading, _ in make_api.module_functions(easycls.datasets)]
    assert calls and [call for call in calls if call not in easycls.datasets.__doc__] == []


def test_the_api_page_is_what_make_api_writes():
    written = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    assert written == make_api.render(), "docs/api.md is out of date: run python docs/make_api.py"


@pytest.mark.parametrize("argv", make_api.command_examples(), ids=" ".join)
def test_each_command_line_example_is_a_valid_command(argv):
    from easycls.cli import build_parser

    parser = build_parser()
    parser.exit = parser.error = pytest.fail  # argparse exits on a wrong flag; say which
    args, unknown = parser.parse_known_args(argv)
    assert not unknown and args.command == argv[0]


def page_blocks(page: Path):
    """(kind, code, runs) of each python/pycon block of a page, in order."""
    return [(m["kind"], m["code"], m["marker"] is None)
            for m in BLOCK.finditer(page.read_text(encoding="utf-8"))]


def without_comments(code: str) -> str:
    return "\n".join(line.split("#")[0].rstrip() for line in code.splitlines() if line.split("#")[0].strip())


def test_the_chinese_quickstart_shows_the_readmes_code():
    english = [without_comments(code) for _, code, runs in page_blocks(REPO / "README.md") if runs]
    chinese = [without_comments(code) for _, code, runs in page_blocks(REPO / "README_zh-CN.md")
               if runs]
    assert chinese and chinese[0] == english[0]


RUN_BEFORE = set()  # the Chinese quickstart repeats the README's code: it runs once


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_code_blocks_of_each_page_run(page, tmp_path, monkeypatch, capsys, quiet):
    monkeypatch.chdir(copy_bundled(tmp_path))
    namespace = {"__name__": "__main__"}
    for number, (kind, code, runs) in enumerate(page_blocks(page), 1):
        if not runs or without_comments(code) in RUN_BEFORE:
            continue
        where = f"{page.name}, code block {number}"
        if kind == "python":
            exec(compile(code, where, "exec"), namespace)
            RUN_BEFORE.add(without_comments(code))
        else:
            run_examples(doctest.DocTestParser().get_examples(code, where), where, namespace)
    capsys.readouterr()
