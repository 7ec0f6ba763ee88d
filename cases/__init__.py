"""Standard cases shipped with flagbench; each registers through the ``flagbench.cases`` entry points."""
