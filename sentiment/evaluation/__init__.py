"""Evaluation: classification metrics, their uncertainty, the evaluation runner and its SQLite store."""
