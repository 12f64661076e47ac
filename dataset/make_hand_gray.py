"""Re-create the bundled data set dataset/hand_gray and the pictures in demo/.

Everything is drawn by easycls.data.synthetic with fixed seeds, so the files
come out the same on every machine. Run from anywhere:
    python dataset/make_hand_gray.py
"""
import shutil
from pathlib import Path

import numpy as np

from easycls.data.synthetic import CLASSES, draw_gesture, make_hand_gestures

REPO = Path(__file__).resolve().parent.parent
DEMO_SEED = 2024  # differs from the data set's seed: demo pictures are unseen


def main():
    target = REPO / "dataset" / "hand_gray"
    shutil.rmtree(target, ignore_errors=True)
    make_hand_gestures(target, train_per_class=100, val_per_class=30, test_per_class=30,
                       size=64, seed=0)
    rng = np.random.default_rng(DEMO_SEED)
    many = REPO / "demo" / "many_pictures"
    shutil.rmtree(many, ignore_errors=True)
    many.mkdir(parents=True)
    for name in CLASSES:
        draw_gesture(name, rng, size=64).save(REPO / "demo" / f"{name}.png")
        for index in range(3):
            draw_gesture(name, rng, size=64).save(many / f"{name}_{index}.png")
    print(f"Wrote {target} and demo pictures in {REPO / 'demo'}")


if __name__ == "__main__":
    main()
