"""Notification channels (email, messaging), one module per channel."""
