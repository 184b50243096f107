"""labgrid drivers of a micropump bench: the MicroPython board on its serial port, and its power through the rig.

Neither driver holds a port open: the host tools (PumpClient, mpremote, deploy) open the port
for each use, as they do without labgrid, so a driver hands out the port as a string they
accept (a local path, or an rfc2217:// or socket:// URL for a port served by an exporter).
"""
import time

import attr
from labgrid.driver.common import Driver
from labgrid.driver.powerdriver import PowerResetMixin
from labgrid.factory import target_factory
from labgrid.protocol import PowerProtocol
from labgrid.resource.base import SerialPort
from labgrid.step import step
from labgrid.util.proxy import proxymanager
from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from host_tools.client import DeviceError, LinkError, PumpClient
from host_tools.deploy import DeployError, close_quietly, deploy, enter_service_mode
from host_tools.rig import SerialRig, SimRig

from host_tools.labgrid_pump.resources import PumpSimRig


class BoardError(Exception):
    """The board did not reach the asked state; the message says what it did instead."""


def port_url(resource):
    """The port string the host tools open for a SerialPort (its path) or a NetworkSerialPort
    (a URL; ign_set_control because ser2net does not confirm line settings)."""
    if isinstance(resource, SerialPort):
        return resource.port
    if not resource.avail or resource.port is None:
        # an exporter stops serving a USB port while its board is unpowered
        raise BoardError("%s is not served now (is the board powered?)" % resource)
    host, port = proxymanager.get_host_and_port(resource)
    if resource.protocol == "rfc2217":
        return "rfc2217://%s:%d?ign_set_control" % (host, port)
    if resource.protocol == "raw":
        return "socket://%s:%d" % (host, port)
    raise BoardError("%s: unknown protocol %r (rfc2217 or raw)" % (resource, resource.protocol))


@target_factory.reg_driver
@attr.s(eq=False)
class MicroPythonDriver(Driver):
    """A MicroPython board running the pump firmware: whether its REPL or the pump app answers,
    getting from the app to the REPL, and deploying the firmware for `board` (a folder of boards/)."""

    bindings = {"port": {"SerialPort", "NetworkSerialPort"}}
    board = attr.ib(default="sim", validator=attr.validators.instance_of(str))
    timeout = attr.ib(default=30.0, converter=float)

    @property
    def link(self):
        return port_url(self.port)

    def on_activate(self):
        pass

    def on_deactivate(self):
        pass

    @Driver.check_active
    def hello(self, timeout=1.5):
        """The app's hello if the pump app answers, else None (a REPL, a booting board, no port)."""
        try:
            with PumpClient(self.link, timeout=max(timeout, 2.0)) as client:
                return client.probe(timeout=timeout)
        except (LinkError, BoardError):
            return None

    @Driver.check_active
    def repl(self, timeout=3.0):
        """sys.platform if MicroPython's raw REPL answers (as mpremote enters it), else None."""
        try:
            transport = SerialTransport(self.link, baudrate=115200)
        except (TransportError, OSError, BoardError):
            return None
        try:
            transport.enter_raw_repl(soft_reset=False, timeout_overall=timeout)
            platform = transport.exec("import sys; print(sys.platform)").decode().strip()
            transport.exit_raw_repl()
            return platform
        except (TransportError, OSError):
            return None
        finally:
            close_quietly(transport)

    @Driver.check_active
    @step(result=True)
    def await_repl(self, timeout=None):
        """Wait until the REPL answers, asking a running pump app into service mode (the app owns
        the port and ignores Ctrl-C); returns sys.platform."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            if self.hello() is not None:
                self._service()     # the app reboots into the REPL
            platform = self.repl()
            if platform is not None:
                return platform
            if time.monotonic() > deadline:
                break
            # an exporter serves a USB board that came back from a power cut on a new port
            self.target.update_resources()
            time.sleep(0.3)
        raise BoardError("neither the REPL nor the pump app answered on %s within %.0f s"
                         % (self.port, timeout or self.timeout))

    def _service(self):
        try:
            enter_service_mode(self.link, True, self.logger.info)   # stops a delivery first
        except (LinkError, DeployError, BoardError) as e:
            self.logger.info("service mode not reached yet: %s", e)

    @Driver.check_active
    @step(result=True)
    def deploy(self):
        """Deploy the firmware for self.board (host_tools/deploy.py: copies what changed, verifies,
        restarts the app and waits for its hello); returns deploy's summary."""
        result = deploy(self.link, self.board, stop=True, progress=self.logger.info)
        return {k: result[k] for k in ("build", "changed", "removed", "files")}

    @Driver.check_active
    @step(result=True)
    def check_app(self):
        """The app's hello and status, or BoardError if it does not answer both."""
        try:
            with PumpClient(self.link, timeout=5.0) as client:
                hello = client.hello(timeout=5.0)
                status = client.request("status")
        except (LinkError, DeviceError) as e:
            raise BoardError("the pump app on %s does not answer: %s" % (self.link, e))
        return {"firmware": hello.get("firmware"), "board": hello.get("board"), "state": status.get("state")}


@target_factory.reg_driver
@attr.s(eq=False)
class PumpRigPowerDriver(Driver, PowerResetMixin, PowerProtocol):
    """The pump board's power through its rig: a simulated board's rig (PumpSimRig), or a physical
    rig board (boards/rig_pico) on a serial port, whose MOSFET switches the pump's supply."""

    bindings = {"rig": {"PumpSimRig", "SerialPort", "NetworkSerialPort"}}
    off_s = attr.ib(default=1.0, converter=float)   # how long cycle() leaves the board unpowered

    @property
    def rig_path(self):
        """The sim rig's socket as SimRig opens it (socket://HOST:PORT), or None for a physical rig."""
        if not isinstance(self.rig, PumpSimRig):
            return None
        host, port = proxymanager.get_host_and_port(self.rig)
        return "socket://%s:%d" % (host, port)

    @property
    def rig_port(self):
        """A physical rig's serial port (a path or URL SerialRig opens), or None for a sim rig."""
        return None if isinstance(self.rig, PumpSimRig) else port_url(self.rig)

    def on_activate(self):
        pass

    def on_deactivate(self):
        pass

    def _open(self):
        return SimRig(self.rig_path) if self.rig_path else SerialRig(self.rig_port)

    @staticmethod
    def _powered(rig):
        state = rig.status()
        return bool(state.get("powered", state.get("power")))   # the sim's rig / a physical rig

    @Driver.check_active
    @step(result=True)
    def get(self):
        """Whether the board is powered (`labgrid-client power get`)."""
        with self._open() as rig:
            return self._powered(rig)

    @Driver.check_active
    @step()
    def on(self):
        with self._open() as rig:
            if not self._powered(rig):   # a sim's rig refuses a second power_on
                rig.power_on()

    @Driver.check_active
    @step()
    def off(self):
        with self._open() as rig:
            rig.power_cut()

    @Driver.check_active
    @step()
    def cycle(self):
        with self._open() as rig:
            rig.power_cut()
            rig.power_on(off_s=self.off_s)
