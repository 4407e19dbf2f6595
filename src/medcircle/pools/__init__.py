"""Pooled scarce resources: units, pools, one fair waitlist, offers and admissions."""
