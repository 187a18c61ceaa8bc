"""Monitoring: per-text features, drift tests and checks, the prediction log, feedback labels, performance estimates."""
