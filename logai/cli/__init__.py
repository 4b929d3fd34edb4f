"""The `logai` command line."""
