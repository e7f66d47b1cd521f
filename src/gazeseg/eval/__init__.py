"""Evaluation: datasets with ground truth, metrics, the click and gaze protocols, reports."""
