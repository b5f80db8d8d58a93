"""How far to trust the predictions: ``calibrate`` measures this machine into a device spec, and
``validate`` times real kernels and whole models here against the roofline's predictions."""
