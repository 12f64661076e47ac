"""Compatibility with the libraries easycls users come from.

`easycls.compat.mmedu.MMClassification` keeps MMEdu's names, argument order,
defaults and result shapes over `easycls.Classifier`, so classroom code written for
MMEdu runs with only its import line changed. What differs on purpose is listed in
docs/mmedu.md.
"""
from .mmedu import MMClassification

__all__ = ["MMClassification"]
