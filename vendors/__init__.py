"""First-party vendor adapters; each registers through the ``flagbench.vendors`` entry points."""
