"""debristrack: find and track space debris and satellites in optical image sequences."""

__version__ = "0.1.0"
