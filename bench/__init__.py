"""The project's own benchmark: `python bench/run.py --items N` (see bench/run.py)."""
