"""labgrid resources of a micropump bench: a simulated board's rig channel, served over TCP."""
import attr
from labgrid.factory import target_factory
from labgrid.resource.common import NetworkResource


@target_factory.reg_resource
@attr.s(eq=False)
class PumpSimRig(NetworkResource):
    """The rig socket of a simulated board (line-delimited JSON), served on host:port by
    host_tools.sim.farm. An exporter passes it through as it stands; a physical rig
    (boards/rig_pico) is a serial port instead (USBSerialPort, exported as NetworkSerialPort)."""

    port = attr.ib(validator=attr.validators.instance_of(int))
