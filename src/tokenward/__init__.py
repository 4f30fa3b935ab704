"""tokenward: keep publishing API tokens under control."""

__version__ = "0.1.0"
