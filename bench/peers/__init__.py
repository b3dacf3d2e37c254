"""Benchmark adapters: one module per library, each run inside that library's own venv."""
