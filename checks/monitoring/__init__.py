"""Monitoring on the control node: the Prometheus scrape targets of the kit's exporters."""
