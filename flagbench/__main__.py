"""``python -m flagbench``."""

from flagbench.cli import main

main()
