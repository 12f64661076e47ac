"""log.json: JSON lines compatible with OpenMMLab's log tools, appended, never truncated."""
import json
import os
from pathlib import Path
from typing import List


class LogWriter:
    """Appends one JSON object per line in a single write, so a killed process leaves whole lines.

    `sync=True` also forces the line onto the disk (against power loss); the trainer
    asks for it once an epoch, not for every training line.
    """

    def __init__(self, path):
        self.path = Path(path)

    def write(self, record: dict, sync: bool = False) -> dict:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        return record


def read_log(path) -> List[dict]:
    """All records of a log.json; a half-written last line (after a crash) is ignored.

    Example:
        >>> records = easycls.read_log('checkpoints/hand_gray/log.json')
        >>> [record['mode'] for record in records if 'mode' in record][-2:]
        ['train', 'val']
    """
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
