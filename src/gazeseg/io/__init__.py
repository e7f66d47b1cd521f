"""Reading and writing images, masks and volumes with clear errors for bad files."""
