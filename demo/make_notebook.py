"""Write demo/quickstart.ipynb from demo/lesson.py, its plain-script twin (cells: '# %%').

Run after editing lesson.py:  python demo/make_notebook.py   (tests check they agree)
"""
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


def lesson_cells(text: str):
    """(kind, source) of each '# %%' cell of the script."""
    cells = []
    for chunk in text.split("# %%")[1:]:
        header, _, body = chunk.partition("\n")
        if "[markdown]" in header:
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.strip().splitlines()]
            cells.append(("markdown", "\n".join(lines)))
        else:
            cells.append(("code", body.strip()))
    return cells


def notebook(text: str):
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    book = nbformat.v4.new_notebook(cells=[make[kind](source) for kind, source in lesson_cells(text)])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return book


if __name__ == "__main__":
    nbformat.write(notebook((HERE / "lesson.py").read_text(encoding="utf-8")), HERE / "quickstart.ipynb")
    print("wrote", HERE / "quickstart.ipynb")
