"""Stored runs to HTML and exports: report model, charts, rendering, selection. Imports api, stats
and store; it never runs anything."""
