"""Pure domain: the case model and what is derived from it. No I/O, no clock."""
