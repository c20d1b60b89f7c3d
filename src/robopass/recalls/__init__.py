"""Recall campaigns (SPEC §6)."""
