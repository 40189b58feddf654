"""Failover drills: client histories, sentinel events, and what they prove."""
