"""The plan as data: its language (model, loader), working days and expansion."""
