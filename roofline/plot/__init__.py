"""Charts (matplotlib). Every chart draws on ``ax`` (a new figure when None) and returns the Axes;
axes carry units, charts a legend and a title naming model, device, dtype and batch.

* :func:`roofline` (:mod:`~roofline.plot.roofline_chart`): ops against a device's roofs;
* :func:`breakdown`, :func:`batch_scaling` (:mod:`~roofline.plot.bars`): time shares, and latency
  and throughput against batch;
* :func:`plot_sweep` (:mod:`~roofline.plot.sweep`): a design-space sweep;
* :mod:`roofline.plot.validation`: the chart of a ``roofline validate`` report;
* :mod:`roofline.plot.studies`: the charts of the studies (``Study.plot``, ``Study.figure``);
* :func:`save`: write a chart to PNG, SVG or PDF atomically.

Importing this package imports matplotlib; :mod:`roofline` and computing results never do.
"""

from roofline.output_files import image_format
from roofline.plot.bars import batch_scaling, breakdown
from roofline.plot.common import save
from roofline.plot.roofline_chart import roofline
from roofline.plot.sweep import plot_sweep

__all__ = [
    "batch_scaling",
    "breakdown",
    "image_format",
    "plot_sweep",
    "roofline",
    "save",
]
