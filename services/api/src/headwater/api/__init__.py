"""Headwater api."""
