"""``python -m flagbench``."""

from flagbench.cli.main import main

main()
