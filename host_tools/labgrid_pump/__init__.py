"""labgrid support for micropump boards: resources, drivers and a strategy, registered with labgrid on import.

An environment YAML loads it with `imports: [host_tools.labgrid_pump]` (labgrid/*.yaml); it needs
labgrid, so it lives in the labgrid venv (make labgrid-venv), not in the project's .venv.
"""
from host_tools.labgrid_pump import resources, drivers, strategy  # noqa: F401  (registration)
