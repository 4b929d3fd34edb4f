"""logai: turns raw log streams into structured, semantically typed events and trustworthy verdicts."""

__version__ = "0.1.0"
