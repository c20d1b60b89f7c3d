"""Decision history (SPEC §13): every regulatory decision and organisation change."""
