"""Statistics of samples: summaries, intervals, comparisons, rounds, step detection.

Imports api only."""
