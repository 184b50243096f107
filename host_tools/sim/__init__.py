"""Host-side simulation of the pump board and the physical plant around it."""
