"""The pictures of README.md and docs/dataset.md, made from the bundled data set and the
bundled checkpoint (no training): `python docs/make_images.py` writes docs/images/."""
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))  # a checkout that is not installed draws its own pictures

import easycls  # noqa: E402
from easycls import Classifier  # noqa: E402

IMAGES = DOCS / "images"


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    model = Classifier.from_checkpoint(REPO / "checkpoints" / "lenet_hand_gray.pth", device="cpu")
    with tempfile.TemporaryDirectory() as annotated:
        model.inference(REPO / "demo" / "rock.png", save_fold=annotated)
        shutil.copy(Path(annotated) / "rock.png", IMAGES / "result.png")
    report = model.evaluate(REPO / "dataset" / "hand_gray" / "test_set")
    easycls.plot_confusion_matrix(report, save=IMAGES / "confusion.png")
    easycls.show_dataset(REPO / "dataset" / "hand_gray", per_class=6, save=IMAGES / "dataset.png")
    print(f"Wrote result.png, confusion.png and dataset.png into {IMAGES}")


if __name__ == "__main__":
    main()
