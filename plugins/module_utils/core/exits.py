"""The exit codes of every redisops command, so a script or a systemd unit reads them alike."""

OK = 0
# The command ran and the answer is no: findings at or above --fail-on, a failed drill run, a
# backup that did not verify.
FAIL = 1
# The command could not give an answer: bad usage, a target that could not be read, a drill
# refused by its preflight.
ERROR = 2
# A drill could not put the group back as it found it: a person has to look now.
HEAL_FAILED = 3
# Stopped by Ctrl-C (128 + SIGINT, as a shell reports it), after cleaning up.
INTERRUPTED = 130
