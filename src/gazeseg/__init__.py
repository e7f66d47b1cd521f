"""gazeseg: segment images with your eyes.

Importing the package is cheap: no torch, no model loads, no directories created.
"""

__version__ = "0.1.0"
