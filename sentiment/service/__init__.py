"""Service: what the UI and HTTP routes call (serving, evaluation, monitoring, feedback, jobs) and its metrics."""
