"""Contracts and value types every layer shares; imports nothing else of flagbench."""
