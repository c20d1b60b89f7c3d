"""robopass: humanoid robot full-lifecycle registry."""

__version__ = "0.1.0"
