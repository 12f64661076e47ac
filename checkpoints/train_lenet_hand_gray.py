"""Re-create checkpoints/lenet_hand_gray.pth, the bundled demo weights.

Run from anywhere:  python checkpoints/train_lenet_hand_gray.py
"""
import os

import torch

from easycls import Classifier

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

model = Classifier("LeNet")
model.load_dataset("dataset/hand_gray")
model.train(epochs=15, save_fold="checkpoints/lenet_hand_gray_run", verbose=False)
best = torch.load("checkpoints/lenet_hand_gray_run/best_accuracy_top-1.pth", weights_only=True)
# Weights and meta are all inference needs; optimizer state would double the file.
torch.save({"state_dict": best["state_dict"], "meta": best["meta"]},
           "checkpoints/lenet_hand_gray.pth")
print("Wrote checkpoints/lenet_hand_gray.pth")
