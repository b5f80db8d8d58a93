"""Model families; importing this package registers each one."""

from . import detection, layers, mobilenet, resnet, shufflenet, vgg, video  # noqa: F401  (imported for registration)
from .base import FAMILIES, Family, FamilyParams, family

__all__ = ["FAMILIES", "Family", "FamilyParams", "family"]
