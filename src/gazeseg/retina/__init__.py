"""Retina mode (GlanceSeg): microaneurysms from a clinician's reading gaze, no clicks."""
