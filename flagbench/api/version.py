"""flagbench's version, in the lowest layer so the store and host facts can record it."""

__version__ = "0.1.0"
