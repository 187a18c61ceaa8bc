"""Monitoring: per-text features, the prediction log, reference and drift checks, production evaluation, estimates."""
