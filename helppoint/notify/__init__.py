"""Notification channels: one small class per channel, each with one `notify()` method."""
