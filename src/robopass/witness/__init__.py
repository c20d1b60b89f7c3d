"""A C2SP tlog-witness (SPEC §15): cosigns a log's checkpoints once they are consistent with
the last one it cosigned. ``robopass witness serve`` runs it; see :mod:`.protocol`."""
