"""Acceptance tests: real `jobqueue serve` and `jobqueue worker` processes, driven over HTTP."""
