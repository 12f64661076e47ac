"""README command (a): the quickstart runs on the bundled data and reaches its accuracy."""
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from easycls import Classifier, read_log

REPO = Path(__file__).resolve().parent.parent


def run_demo(script: str, folder):
    """Run a demo script in a copy of the demo pictures and the bundled data set."""
    for part in ("demo", "dataset"):
        shutil.copytree(REPO / part, folder / part)
    done = subprocess.run([sys.executable, str(folder / "demo" / script)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_quickstart_trains_above_90_percent_and_writes_annotated_pictures(tmp_path):
    done = run_demo("quickstart.py", tmp_path)
    val = [line for line in read_log(tmp_path / "checkpoints" / "hand_gray" / "log.json")
           if line.get("mode") == "val"]
    assert max(line["accuracy_top-1"] for line in val) > 90.0
    written = {p.name for p in (tmp_path / "cls_result").iterdir()}
    assert {"rock.png", "paper_0.png", "scissors_2.png"} <= written
    assert "rock.png  rock" in done.stdout


def test_bundled_checkpoint_classifies_every_demo_picture(tmp_path):
    checkpoint = REPO / "checkpoints" / "lenet_hand_gray.pth"
    assert set(torch.load(checkpoint, weights_only=True)) == {"state_dict", "meta"}
    model = Classifier("LeNet")
    results = model.inference(str(REPO / "demo" / "many_pictures"), show=False,
                              checkpoint=checkpoint)
    assert [r["pred_class"] for r in results] == [Path(r["image"]).stem.rsplit("_", 1)[0]
                                                  for r in results]


def test_the_pictures_demo_draws_every_picture(tmp_path):
    run_demo("pictures.py", tmp_path)
    out = tmp_path / "cls_pictures"
    for name in ("dataset.png", "curves.png", "confusion.png", "gallery.png", "cam/rock.png",
                 "cam_paper/rock.png", "cam_many/paper_0.png"):
        assert (out / name).stat().st_size > 5000, name
    assert (out / "test_predictions.csv").read_text(encoding="utf-8-sig").count("\n") == 91
