"""Serving language models: prefill and decode with the sequence length as an evaluation axis
(:mod:`roofline.serving.context_counts`), and generation metrics (time to first token, time per
output token, tokens per second) over whole grids (:mod:`roofline.serving.generation`)."""
