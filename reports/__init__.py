"""Jinja templates of flagbench's HTML reports, loaded as package resources."""
