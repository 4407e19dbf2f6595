"""medcircle: an open platform that runs a cross-regional medical care circle."""

__version__ = "0.1.0"
