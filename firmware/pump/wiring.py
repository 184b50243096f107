# Builds the board the app is handed from board.json: drivers are created here, at start, never at import.
from pump.board_config import load_board
from pump.errors import ConfigError


class Board:
    """The hardware of one board: its config and one driver per role."""

    def __init__(self, cfg, motor, clock, link, pressure, system, supply=None, faults=None,
                 annunciator=None, encoder=None, storage=None):
        self.cfg = cfg
        self.motor = motor
        self.clock = clock
        self.link = link
        self.pressure = pressure
        self.system = system
        self.supply = supply
        self.faults = faults
        self.annunciator = annunciator
        self.encoder = encoder      # read_steps(): the rotor's position in motor steps since boot
        self.storage = storage      # files on flash (drivers/vfs_storage.py interface)

    def safe_state(self):
        # Every actuator's safe state, the motor first, each tried even if another fails; a
        # sensor (the encoder) has one only if its driver offers it.
        for driver in (self.motor, self.annunciator, self.encoder):
            if driver is None:
                continue
            try:
                hook = getattr(driver, "safe_state", None)
                if hook is not None:
                    hook()
                elif driver is not self.encoder:
                    driver.disable()
            except Exception:
                pass


def load_driver(role, spec, cfg):
    kind = spec["kind"]
    try:
        module = __import__("drivers." + kind, None, None, ("DRIVER",))
        cls = module.DRIVER
    except (ImportError, AttributeError) as e:
        raise ConfigError([("drivers.%s.kind" % role, "cannot load driver %r: %s" % (kind, e))])
    return cls(spec, cfg)


def load_storage(cfg):
    """The board's storage driver: every board has a filesystem, so no storage role means
    plain files over it (vfs_storage)."""
    spec = cfg["drivers"].get("storage", {"kind": "vfs_storage"})
    return load_driver("storage", spec, cfg)


def build_board(path="board.json"):
    cfg = load_board(path)
    drivers = cfg["drivers"]
    link_spec = drivers.get("link", {"kind": "stdio"})
    optional = {}
    for role in ("pressure", "supply", "faults", "annunciator", "encoder"):
        optional[role] = load_driver(role, drivers[role], cfg) if role in drivers else None
    from drivers.machine_system import MachineSystem
    return Board(cfg,
                 motor=load_driver("motor", drivers["motor"], cfg),
                 clock=load_driver("clock", drivers["clock"], cfg),
                 link=load_driver("link", link_spec, cfg),
                 pressure=optional["pressure"],
                 system=MachineSystem(),
                 supply=optional["supply"],
                 faults=optional["faults"],
                 annunciator=optional["annunciator"],
                 encoder=optional["encoder"], storage=load_storage(cfg))
