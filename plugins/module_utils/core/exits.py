"""The exit codes of every redisops command, so a script or a systemd unit reads them alike."""

OK = 0
# The command ran and the answer is no: findings at or above --fail-on, a failed drill run, a
# backup that did not verify.
FAIL = 1
# The command could not give an answer: a target or an inventory that could not be read, a drill
# refused by its preflight or aborted.
ERROR = 2
# A drill could not put the group back as it found it: a person has to look now.
HEAL_FAILED = 3
# The command line is wrong (an unknown option, a bad value, a missing argument): nothing was done.
# EX_USAGE of sysexits.h, so that a script tells it from "could not check" (2).
USAGE = 64
# Stopped by Ctrl-C (128 + SIGINT, as a shell reports it), after cleaning up.
INTERRUPTED = 130
# The reader of the output went away ('redisops check --list | head'): 128 + SIGPIPE, as a shell
# reports a command a pipe ended, without a traceback.
PIPE_CLOSED = 141


# For the help texts: one line per code, in the order a reader looks them up.
DESCRIPTIONS = (
    (OK, "ok: no findings at or above the fail level, every drill run passed, the backup verified"),
    (FAIL, "the answer is no: findings, a drill run that failed its criteria, a backup that did not verify"),
    (ERROR, "could not answer: a target or inventory could not be read, a drill refused or aborted"),
    (HEAL_FAILED, "a drill could not put the group back as it found it: look at it now"),
    (USAGE, "usage error: a wrong option, value or argument; nothing was done"),
    (INTERRUPTED, "interrupted (Ctrl-C), after cleaning up"),
    (PIPE_CLOSED, "the output's reader went away (a pipe into head)"),
)
