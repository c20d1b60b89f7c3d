"""A transparency-log monitor (SPEC §15): follows a registry's checkpoint and tiles, checks
every signature, every new leaf and that the log only ever grows. See :mod:`.follow`."""
