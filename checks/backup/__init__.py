"""Backups: snapshots taken on a replica, shipped off the Redis hosts, kept, verified, restored.

Runs on the backup host with the bundled runtime (standard library and redis-py only), and on
the control node for ``redisops drill backup``.
"""
