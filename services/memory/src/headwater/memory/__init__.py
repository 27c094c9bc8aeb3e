"""Headwater memory."""
