"""print_result's table, in English or Chinese, and results written to a file."""
import csv
import json
import os
import shutil
from pathlib import Path
from typing import List, Optional, Union

from .errors import EasyclsError
from .i18n import language

HEADERS = {
    "en": ("image", "class", "score", "top-k"),
    "zh": ("图片", "类别", "置信度", "前k个"),
}


def check_lang(lang: Optional[str]) -> str:
    """The language to show: `lang`, or with None the one chosen with easycls.set_language
    or EASYCLS_LANG."""
    if lang is None:
        return language()
    if lang not in HEADERS:
        raise EasyclsError(f"lang={lang!r} is not supported: use 'en' (English) or 'zh' (中文).")
    return lang


def format_results(results: Union[dict, List[dict]], lang: Optional[str] = None) -> str:
    lang = check_lang(lang)
    rows = [results] if isinstance(results, dict) else results
    if not isinstance(rows, (list, tuple)) or not all(
            isinstance(r, dict) and ("pred_class" in r or "error" in r) for r in rows):
        raise EasyclsError(f"print_result takes what inference returns (a result dict or a list "
                           f"of them), got {type(results).__name__} {str(results)[:60]!r}. "
                           f"To classify a picture first: model.print_result(model.inference(...)).")
    table, names = [], _display_names(rows)
    for index, result in enumerate(rows):
        name = names[index]
        if "error" in result:
            table.append((name, "ERROR", "", result["error"]))
            continue
        others = ", ".join(f"{c} {s:.2f}" for c, s in result["topk"][1:])
        table.append((name, result["pred_class"], f"{result['pred_score']:.4f}", others))
    header = HEADERS[lang]
    widths = [max(text_width(str(row[i])) for row in [header, *table]) for i in range(3)]
    lines = ["  ".join(pad(str(cell), widths[i]) if i < 3 else str(cell)
                       for i, cell in enumerate(row)).rstrip() for row in [header, *table]]
    columns = shutil.get_terminal_size((100, 24)).columns
    lines.insert(1, "-" * min(max(text_width(line) for line in lines), columns))
    return "\n".join(lines)


def _display_names(rows: List[dict]) -> List[str]:
    return relative_names([row.get("image") for row in rows])


def relative_names(paths: List[Optional[str]]) -> List[str]:
    """Each picture's path below the folder they share (cat/0.jpg, dog/0.jpg stay distinct);
    '#i' for pictures that are not files."""
    known = [os.path.abspath(path) for path in paths if path]
    try:
        base = os.path.commonpath([os.path.dirname(path) for path in known]) if known else ""
    except ValueError:  # pictures on different Windows drives share no folder
        base = ""
    return [os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/") if path
            else f"#{index}" for index, path in enumerate(paths)]


def text_width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - text_width(text))


def write_results(results: Union[dict, List[dict]], out) -> Path:
    """Inference results to a file: .csv (a row per picture, for a spreadsheet) or .json."""
    rows = [results] if isinstance(results, dict) else list(results)
    path = output_file(out, "results")
    if path.suffix.lower() == ".json":
        return write_json(path, rows)
    table = []
    for name, row in zip(relative_names([r.get("image") for r in rows]), rows):
        if "error" in row:
            table.append([row.get("image") or name, "", "", "", row["error"]])
        else:
            table.append([row.get("image") or name, row["pred_class"], f"{row['pred_score']:.6f}",
                          "; ".join(f"{c} {s:.4f}" for c, s in row["topk"]), ""])
    return write_csv(path, ["image", "pred_class", "pred_score", "topk", "error"], table)


def check_output(out, what: str) -> Path:
    """The .csv or .json file `out` names, refused before any work if it is neither."""
    path = Path(out)
    if path.suffix.lower() not in (".csv", ".json"):
        raise EasyclsError(f"out={str(out)!r} is not a file type for {what}: end the name with "
                           f".csv (a table for a spreadsheet) or .json.")
    return path


def output_file(out, what: str) -> Path:
    """The .csv or .json file to write `what` into, its folder made."""
    path = check_output(out, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_csv(path: Path, header: List[str], rows: List[list]) -> Path:
    # utf-8-sig: Excel opens the file with Chinese class names intact.
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


class ShownDict(dict):
    """A dict whose echo in a notebook is short: arrays and long lists are summarised, since
    a report or a table printed them already. Everything else about it is a plain dict."""

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text("{" + ",\n ".join(f"{key!r}: {_short(value)}" for key, value in self.items())
                     + "}")


class ShownList(list):
    """A list of results whose echo in a notebook is short (see ShownDict)."""

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text("[" + ",\n ".join(map(_short, self[:6]))
                     + (f",\n ... {len(self) - 6} more" if len(self) > 6 else "") + "]")


def shown(value):
    """`value` (a dict or a list of dicts) with a short notebook echo."""
    if isinstance(value, dict):
        return ShownDict(value)
    return ShownList(ShownDict(item) if isinstance(item, dict) else item for item in value)


def _short(value) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # numpy arrays, tensors
        return f"<{'x'.join(map(str, value.shape))} {value.dtype} array>"
    if isinstance(value, dict) and not isinstance(value, ShownDict) and len(value) > 8:
        return f"{{... {len(value)} entries}}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"[... {len(value)} items]"
    return repr(value)
