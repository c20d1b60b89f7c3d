"""Maintenance records and service providers' work orders (SPEC §4, §6)."""
