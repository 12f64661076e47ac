"""print_result's table, in English or Chinese."""
import os
from typing import List, Union

HEADERS = {
    "en": ("image", "class", "score", "top-k"),
    "zh": ("图片", "类别", "置信度", "前k个"),
}


def format_results(results: Union[dict, List[dict]], lang: str = "en") -> str:
    if lang not in HEADERS:
        raise ValueError(f"lang={lang!r} is not supported: use 'en' (English) or 'zh' (中文).")
    rows = [results] if isinstance(results, dict) else list(results)
    table = []
    for index, result in enumerate(rows):
        name = os.path.basename(result["image"]) if result.get("image") else f"#{index}"
        if "error" in result:
            table.append((name, "ERROR", "", result["error"]))
            continue
        others = ", ".join(f"{c} {s:.2f}" for c, s in result["topk"][1:])
        table.append((name, result["pred_class"], f"{result['pred_score']:.4f}", others))
    header = HEADERS[lang]
    widths = [max(_width(str(row[i])) for row in [header, *table]) for i in range(3)]
    lines = ["  ".join(_pad(str(cell), widths[i]) if i < 3 else str(cell)
                       for i, cell in enumerate(row)).rstrip() for row in [header, *table]]
    lines.insert(1, "-" * max(_width(line) for line in lines))
    return "\n".join(lines)


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
