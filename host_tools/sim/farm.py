"""A farm of simulated boards served over TCP, with the labgrid exporter config that publishes them.

    python -m host_tools.sim.farm --boards 2 --config build/simfarm/exporter.yaml

starts the boards sim-1 .. sim-N, serves each one's serial link over RFC 2217 (as a labgrid
exporter's ser2net serves a USB board) and its rig socket over TCP, writes the exporter config
naming them (a group per board: `pump`, a NetworkSerialPort, and `rig`, a PumpSimRig), prints
`sim farm ready: ...` and runs until Ctrl-C or SIGTERM. docs/labgrid.md shows the whole lab.
"""
import argparse
import os
import signal
import sys
import threading

from host_tools.sim.launch import SimProcess
from host_tools.sim.supervisor import SimError
from host_tools.sim.tcp_bridge import RigBridge, SerialBridge

DEFAULT_FIRST_PORT = 21000
DEFAULT_HOME = os.path.join("build", "simfarm")


class FarmError(Exception):
    """The farm cannot start; the message says why and what to change."""


def board_names(count):
    return ["sim-%d" % i for i in range(1, count + 1)]


def exporter_config(boards):
    """The exporter config text for [(name, host, link_port, rig_port)]."""
    # "##": the exporter reads its config as a jinja2 template, where "#" starts a statement
    lines = ["## labgrid exporter config for simulated boards, written by `python -m host_tools.sim.farm`.",
             "## Each group is a place's worth: the board's serial link served over RFC 2217 (as the",
             "## exporter's ser2net serves a USB board) and its rig socket over TCP (docs/labgrid.md)."]
    for name, host, link_port, rig_port in boards:
        lines += ["%s:" % name,
                  "  pump:",
                  "    cls: NetworkSerialPort",
                  "    host: %s" % host,
                  "    port: %d" % link_port,
                  "    protocol: rfc2217",
                  "    speed: 115200",
                  "  rig:",
                  "    cls: PumpSimRig",
                  "    host: %s" % host,
                  "    port: %d" % rig_port]
    return "\n".join(lines) + "\n"


class Farm:
    """count simulated boards under home, each with its link and rig served on host."""

    def __init__(self, count, home=DEFAULT_HOME, host="127.0.0.1", first_port=DEFAULT_FIRST_PORT,
                 speed="1", log=None):
        self.home = os.path.abspath(home)
        self.host = host
        self.boards = []      # (name, SimProcess, SerialBridge, RigBridge)
        self._log = log or (lambda msg: None)
        try:
            for i, name in enumerate(board_names(count)):
                # AF_UNIX paths are short: the farm's home must be too (see SimProcess)
                sim = SimProcess(os.path.join(self.home, name), speed=speed)
                self.boards.append((name, sim, None, None))
                link_port = first_port + 2 * i if first_port else 0
                serial_bridge = SerialBridge(sim.link, host, link_port).start()
                self.boards[-1] = (name, sim, serial_bridge, None)
                rig_bridge = RigBridge(sim.rig_path, host, link_port + 1 if first_port else 0).start()
                self.boards[-1] = (name, sim, serial_bridge, rig_bridge)
                self._log("%s: link %s rig %s (home %s)" % (name, serial_bridge.url(), rig_bridge.url(), sim.home))
        except OSError as e:
            self.stop()
            raise FarmError("cannot serve the boards on %s: %s; pick other ports with --first-port "
                            "(0: any free ones)" % (host, e.strerror or e))
        except SimError:
            self.stop()
            raise

    def config(self):
        return exporter_config([(name, self.host, link.port, rig.port) for name, _, link, rig in self.boards])

    def stop(self):
        for _, sim, link, rig in self.boards:
            for bridge in (link, rig):
                if bridge is not None:
                    bridge.close()
            sim.stop()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m host_tools.sim.farm", description=__doc__.splitlines()[0])
    p.add_argument("--boards", type=int, default=2, help="how many simulated boards (default 2)")
    p.add_argument("--config", default=None, help="where to write the exporter config (default HOME/exporter.yaml)")
    p.add_argument("--home", default=DEFAULT_HOME, help="folder of the boards' flash, sockets and logs "
                   "(default %s; kept short: unix socket paths are)" % DEFAULT_HOME)
    p.add_argument("--host", default="127.0.0.1", help="address to serve on and to publish "
                   "(default 127.0.0.1; this host's name to reach the boards from others)")
    p.add_argument("--first-port", type=int, default=DEFAULT_FIRST_PORT,
                   help="board i's link on FIRST+2i, its rig on FIRST+2i+1 (default %d; 0: any free ports)"
                   % DEFAULT_FIRST_PORT)
    p.add_argument("--speed", default="1", help="each board's simulated seconds per wall second (default 1)")
    args = p.parse_args(argv)
    if not 1 <= args.boards <= 50:
        p.error("--boards is 1 to 50, got %d" % args.boards)
    if args.first_port and not 1024 <= args.first_port <= 65535 - 2 * args.boards:
        p.error("--first-port is 0 (any free ports) or 1024 to %d for %d boards, got %d"
                % (65535 - 2 * args.boards, args.boards, args.first_port))
    config_path = args.config or os.path.join(args.home, "exporter.yaml")

    done = threading.Event()
    print("starting %d simulated board%s under %s ..." % (args.boards, "s" if args.boards > 1 else "", args.home),
          flush=True)
    try:
        farm = Farm(args.boards, args.home, args.host, args.first_port, args.speed,
                    log=lambda msg: print(msg, flush=True))
    except (FarmError, SimError) as e:
        print("farm: error: %s" % e, file=sys.stderr)
        return 1
    before = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        os.makedirs(os.path.dirname(os.path.abspath(config_path)), exist_ok=True)
        with open(config_path, "w") as f:
            f.write(farm.config())
        print("sim farm ready: config=%s boards=%s" % (config_path, ",".join(b[0] for b in farm.boards)), flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
    finally:
        signal.signal(signal.SIGTERM, before)
        farm.stop()
        print("sim farm stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
