"""Classify the demo pictures with the bundled checkpoint: no training needed.

Run from anywhere:  python demo/inference_only.py
"""
import os

from easycls import Classifier as cls

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

model = cls("LeNet")
results = model.inference(image="demo/many_pictures/", show=True,
                          checkpoint="checkpoints/lenet_hand_gray.pth")
model.print_result(results)
