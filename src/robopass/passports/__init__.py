"""Signed robot passports (SPEC §8): a compact JWS of the unit's public-tier facts."""
