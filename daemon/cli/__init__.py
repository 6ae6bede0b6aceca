"""The `planbell` command line."""
