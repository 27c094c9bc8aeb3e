"""Assistants: the controller and their versions."""
