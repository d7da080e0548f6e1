"""Shared core of the lakehouse stack: settings, lake I/O (DuckDB + Delta) and the CLI."""
