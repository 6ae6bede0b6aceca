"""planbell: turns an organisation's yearly work plan into reminders nobody can forget."""

__version__ = "0.1.0"
