"""Benchmarks (``make bench``): medians measured side by side in one run, printed as a table."""
