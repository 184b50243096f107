"""The sim farm for labgrid: the exporter config it writes, and its error for a port in use."""
import os
import shutil
import socket
import tempfile

from host_tools import paths
from host_tools.sim import farm


def test_the_checked_in_sim_exporter_config_is_what_the_farm_writes_with_its_defaults():
    ports = farm.DEFAULT_FIRST_PORT
    boards = [(name, "127.0.0.1", ports + 2 * i, ports + 2 * i + 1) for i, name in enumerate(farm.board_names(2))]
    with open(os.path.join(paths.REPO_DIR, "labgrid", "sim-exporter.yaml")) as f:
        assert f.read() == farm.exporter_config(boards)


def test_a_port_in_use_is_a_one_line_error_naming_first_port_and_leaves_no_board_running(capsys):
    home = tempfile.mkdtemp(prefix="farm")    # short: the sim's unix sockets live under it
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            code = farm.main(["--boards", "1", "--home", home, "--first-port", str(port)])
        err = capsys.readouterr().err.strip()
        assert code == 1
        assert err.startswith("farm: error: cannot serve the boards on 127.0.0.1") and "--first-port" in err, err
        assert "\n" not in err
        assert not os.path.lexists(os.path.join(home, "sim-1", "tty"))   # the sim stopped: its link is gone
    finally:
        shutil.rmtree(home, ignore_errors=True)
