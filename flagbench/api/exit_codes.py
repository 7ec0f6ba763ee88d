"""Process exit codes: decided by the layers below (the matrix loop, spool replay, compare),
returned by the CLI."""

#: Every run ok or skipped.
EXIT_OK = 0
#: Some run failed or timed out (``compare``: a significant slow-down above the threshold).
EXIT_FAILED_RUNS = 1
#: Bad input, or a path or directory the system refused: one line on stderr, nothing stored.
EXIT_USAGE = 2
#: Some run could not be written to the database and waits in the spool (or, where not even
#: the spool could take it, is on stderr as the spool file's JSON).
EXIT_SPOOLED = 3
#: Interrupted (Ctrl-C); the run in progress is stored as ``interrupted``.
EXIT_INTERRUPTED = 130
