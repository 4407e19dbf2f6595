"""The Beijing–Baoding demo world: deterministic, synthetic people on real institutions."""
