"""The compliance checks: gather facts once per target (gather), judge them with pure rules
(rules/, one area per module, one registry in model), report (report), run (run)."""
