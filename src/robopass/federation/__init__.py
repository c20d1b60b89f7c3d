"""Federation with peer registries (SPEC §8): pinned JWKS, remote verification, imports."""
