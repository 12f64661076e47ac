"""Every picture easycls draws, for the bundled hand-gesture data set.

Run from anywhere:  python demo/pictures.py   (the PNGs land in cls_pictures/)
"""
import os

import easycls
from easycls import Classifier as cls

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = "cls_pictures"

# Look at the data first.
easycls.show_dataset("dataset/hand_gray", per_class=8, save=f"{OUT}/dataset.png")

model = cls("LeNet")
model.summary()
model.load_dataset("dataset/hand_gray")
model.save_fold = "checkpoints/hand_gray_pictures"
model.train(epochs=10)
easycls.plot_log("checkpoints/hand_gray_pictures/log.json", save=f"{OUT}/curves.png")

# How well it does on pictures it never saw, class by class.
report = model.evaluate("test", out=f"{OUT}/test_predictions.csv")
easycls.plot_confusion_matrix(report, save=f"{OUT}/confusion.png")
easycls.plot_gallery(report, n=8, save=f"{OUT}/gallery.png")

# Where it looked: the predicted class, then another class for the same picture.
model.cam("demo/rock.png", save_fold=f"{OUT}/cam")
model.cam("demo/rock.png", target_class="paper", method="gradcam++", save_fold=f"{OUT}/cam_paper")
model.cam("demo/many_pictures/", save_fold=f"{OUT}/cam_many")
