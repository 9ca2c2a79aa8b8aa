"""OncoClass benchmarks: quality and speed, side by side with the reference models.

Run ``python -m benchmarks --help``; figures are in docs/benchmarks.md.
"""
