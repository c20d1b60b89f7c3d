"""QR labels and printable label sheets (SPEC §8)."""
