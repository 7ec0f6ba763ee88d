"""Test plugins, installed by putting tests/plugin_site on the path (see tests/conftest.py)."""
