"""The dependency locks: hosts.txt is package data of redisops (the bundle for hosts installs from it)."""
