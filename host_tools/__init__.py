"""Host-side tools for the MicroPython micro-pump controller (bench and teaching use)."""
