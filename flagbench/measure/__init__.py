"""Timed windows: warm-up, the stopping rule, scenarios, generation timing, energy, interference.
Imports api and stats."""
