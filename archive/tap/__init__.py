"""TAP 1.1: ADQL translation (``adql``); sync, async, VOSI and uploads build on it."""
