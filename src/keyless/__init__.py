"""keyless: CI/CD credential hygiene."""

__version__ = "0.1.0"
