"""The classroom notebook runs from top to bottom, and its script twin says the same."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "demo"))


def test_the_notebook_has_the_cells_of_its_script_twin():
    nbformat = pytest.importorskip("nbformat")
    from make_notebook import lesson_cells

    book = nbformat.read(REPO / "demo" / "quickstart.ipynb", as_version=4)
    cells = lesson_cells((REPO / "demo" / "lesson.py").read_text(encoding="utf-8"))
    assert [(c.cell_type, c.source) for c in book.cells] == cells, \
        "demo/quickstart.ipynb differs from demo/lesson.py: run python demo/make_notebook.py"
    assert not any(c.get("outputs") for c in book.cells)  # outputs are not committed


def test_the_classroom_notebook_runs_and_shows_its_pictures(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("onnxruntime")
    for part in ("demo", "dataset"):
        shutil.copytree(REPO / part, tmp_path / part)
    book = nbformat.read(tmp_path / "demo" / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path / "demo")}}).execute()
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    pictures = [sum("image/png" in out.get("data", {}) for out in cell.outputs) for cell in code]
    text = ["".join(out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
                    for out in cell.outputs) for cell in code]
    figure_cells = [i for i, cell in enumerate(code) if "easycls.plot_" in cell.source
                    or "show_dataset" in cell.source]
    assert all(pictures[i] == 1 for i in figure_cells), pictures  # each figure shown once
    assert "Epoch 10/10" in text[2] and "'paper'" in text[-2] and "'scissors'" in text[-1]
    assert (tmp_path / "checkpoints" / "lesson" / "hand_gray.onnx").exists()


def test_the_lesson_script_runs_as_a_plain_script(tmp_path):
    for part in ("demo", "dataset"):
        shutil.copytree(REPO / part, tmp_path / part)
    done = subprocess.run([sys.executable, "demo/lesson.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "cls_pictures" / "lesson_confusion.png").stat().st_size > 5000
