"""Where the tests' own files are, for tests in any sub-folder of tests/."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PLUGIN_SITE = TESTS / "plugin_site"
