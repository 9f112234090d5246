"""Engines: pure functions from a validated case and the knowledge base to an assessment."""
