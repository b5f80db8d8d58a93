"""Model families; importing this package registers each one."""

from . import detection, dlrm, layers, mobilenet, resnet, seq2seq, shufflenet, transformer, vgg, video  # noqa: F401  (imported for registration)
from .base import FAMILIES, Family, FamilyParams, family

__all__ = ["FAMILIES", "Family", "FamilyParams", "family"]
