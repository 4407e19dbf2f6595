"""Timers of consultations: a response promise at risk, a promise missed."""
