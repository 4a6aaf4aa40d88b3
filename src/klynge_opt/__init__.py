"""klynge-opt: design a consolidated business-promotion system as a proven-optimal MIP."""

__version__ = "0.1.0"
