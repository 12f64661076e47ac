"""Pictures for people: annotated inputs, and figures of training and evaluation."""
from .annotate import annotate, label_text, save_annotated

__all__ = ["annotate", "label_text", "save_annotated"]
