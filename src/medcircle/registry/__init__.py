"""Institutions, departments, staff, medical alliances and their centres."""
