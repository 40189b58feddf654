"""The report templates (HTML, Markdown) the checks and drills render: package data of redisops."""
