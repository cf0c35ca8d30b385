"""The SNA benchmark: the product's export side by side with the physical floor and a naive pipeline.

Run `python -m bench --help`. Every measure runs in its own child process (see `measure.py`), so
the peak memory of one export never hides in another's.
"""
