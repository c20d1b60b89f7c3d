"""The registry's status list (SPEC §16): IETF OAuth Token Status List, 2 bits a code."""
