"""Charts (matplotlib, imported only when a chart is drawn)."""

from roofline.plot.bars import batch_scaling, breakdown
from roofline.plot.common import image_format, save
from roofline.plot.roofline_chart import roofline

__all__ = ["batch_scaling", "breakdown", "image_format", "roofline", "save"]
