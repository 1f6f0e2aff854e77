"""AAMI beat-type training (MIT-BIH DS1): data loading, model, patient-wise CV, ONNX export.

Run from `models/training/`: `python -m beats.cv`, `python -m beats.final`, `python -m beats.kaggle`.
"""
