"""Tidings: self-hosted instant messaging that applications plug into."""

__version__ = "0.1.0"
