"""Inference: the predictor (validate -> preprocess -> forward -> postprocess), micro-batching, calibration."""
