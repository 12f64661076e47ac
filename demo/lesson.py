# %% [markdown]
# # easycls: a classroom lesson on rock, paper, scissors
# 石头剪刀布：看数据、训练、看曲线、评估、看错误和热力图、推理、导出。
# Run it as a script (`python demo/lesson.py`) or open `demo/quickstart.ipynb`: the same cells.

# %%
import os

if os.path.basename(os.getcwd()) == "demo":  # a notebook opened in demo/ works from the repository
    os.chdir("..")

import numpy as np
from PIL import Image

import easycls
from easycls import Classifier as cls

cls.sota()

# %% [markdown]
# ## 1. Look at the data first

# %%
easycls.show_dataset("dataset/hand_gray", per_class=6, save="cls_pictures/lesson_dataset.png")

# %% [markdown]
# ## 2. Train LeNet

# %%
model = cls("LeNet")
model.load_dataset("dataset/hand_gray")
model.save_fold = "checkpoints/lesson"
history = model.train(epochs=10)

# %% [markdown]
# ## 3. Read the curves, 4. evaluate with the confusion matrix

# %%
easycls.plot_log("checkpoints/lesson", save="cls_pictures/lesson_curves.png")

# %%
report = model.evaluate("test")
easycls.plot_confusion_matrix(report, save="cls_pictures/lesson_confusion.png")

# %% [markdown]
# ## 5. Failures, and where the model looked

# %%
easycls.plot_gallery(report, n=6, save="cls_pictures/lesson_gallery.png")

# %%
heat = model.cam("demo/rock.png", save_fold="cls_pictures/lesson_cam")

# %% [markdown]
# ## 6. Classify one picture, a folder and a numpy array

# %%
result = model.inference("demo/rock.png", show=True)
model.print_result(result)

# %%
results = model.fast_inference("demo/many_pictures/")
model.print_result(results, lang="zh")

# %%
picture = np.asarray(Image.open("demo/paper.png"))
model.fast_inference(picture)["pred_class"]

# %% [markdown]
# ## 7. Export, and run the exported file without PyTorch

# %%
onnx_file = model.convert(backend="onnx", out_file="checkpoints/lesson/hand_gray.onnx")
easycls.onnx_predict(onnx_file, "demo/scissors.png")["pred_class"]
