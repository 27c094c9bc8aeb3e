"""Headwater cli."""
