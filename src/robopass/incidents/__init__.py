"""Incident reports and their trace reports (SPEC §6)."""
