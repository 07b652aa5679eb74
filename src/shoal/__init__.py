"""Shoal: self-hosted serverless functions with shared POSIX file systems."""

__version__ = "0.1.0"
