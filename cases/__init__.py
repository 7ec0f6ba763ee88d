"""Standard cases shipped with flagbench, registered through ``flagbench.cases`` entry points."""
