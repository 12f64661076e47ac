"""Pictures for people: annotated inputs, and figures of training and evaluation."""
from .annotate import annotate, label_text, save_annotated
from .confusion import plot_confusion_matrix
from .curves import plot_log
from .dataset_grid import show_dataset
from .gallery import plot_gallery

__all__ = ["annotate", "label_text", "save_annotated", "plot_confusion_matrix", "plot_log",
           "show_dataset", "plot_gallery"]
