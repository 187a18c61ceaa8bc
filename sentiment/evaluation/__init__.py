"""Evaluation: classification metrics, their uncertainty, the evaluation runner, its typed reports and SQLite store."""
