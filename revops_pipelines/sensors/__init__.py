"""Sensors: the webhook inbox sensors and run-failure handling."""
