"""Evaluation: datasets, methods side by side, grading, metrics and plots."""
