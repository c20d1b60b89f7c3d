"""Defect signals: early warning of possible common defects (SPEC §6)."""
