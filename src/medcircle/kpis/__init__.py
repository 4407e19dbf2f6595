"""Indicators of the circle, as data: each with its slug, names, unit, formula and source."""
