"""Gaze input and signal processing: sources, filters, fixations, heat maps, calibration, simulation."""
