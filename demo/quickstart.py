"""Train LeNet on the bundled hand-gesture pictures, then classify the demo pictures.

Run from anywhere:  python demo/quickstart.py
"""
import os

from easycls import Classifier as cls

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

print("Backbones:", cls.sota())
model = cls("LeNet")
model.load_dataset(path="dataset/hand_gray")
model.save_fold = "checkpoints/hand_gray"
model.train(epochs=10, validate=True)

result = model.inference(image="demo/rock.png", show=True,
                         checkpoint="checkpoints/hand_gray/best_accuracy_top-1.pth")
model.print_result(result)

results = model.fast_inference(image="demo/many_pictures/", show=True)
model.print_result(results)
