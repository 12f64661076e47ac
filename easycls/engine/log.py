"""log.json: JSON lines compatible with OpenMMLab's log tools, appended, never truncated."""
import json
import os
from pathlib import Path
from typing import List


class LogWriter:
    """Appends one JSON object per line and flushes it, so a crash loses at most a line."""

    def __init__(self, path):
        self.path = Path(path)

    def write(self, record: dict) -> dict:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return record


def read_log(path) -> List[dict]:
    """All records of a log.json; a half-written last line (after a crash) is ignored."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
