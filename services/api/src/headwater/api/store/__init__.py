"""The store and memory endpoints, forwarded to the memory service."""
