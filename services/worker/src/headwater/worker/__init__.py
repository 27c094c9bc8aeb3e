"""Headwater worker."""
