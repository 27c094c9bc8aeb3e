"""Headwater common."""
