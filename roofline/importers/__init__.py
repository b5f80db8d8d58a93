"""Importers: models from other tools' descriptions (Hugging Face configs, PyTorch, ONNX)."""
