"""TCP bridges for a simulated board, as ser2net gives a real one: its serial link (RFC 2217 or raw) and its rig socket.

A labgrid exporter publishes a real board's USB serial port by running ser2net, which serves it
over TCP with RFC 2217 (telnet with serial-port options). SerialBridge does the same for the
simulated board's pty, so the host reaches a simulated board at `rfc2217://HOST:PORT` exactly as
it reaches a real board in a lab; RigBridge forwards TCP connections to the sim's rig socket.
"""
import os
import select
import socket
import termios
import threading

from serial import rfc2217

# a host that closed its connection may still be on its way out when the next one (a deploy's
# next step) connects: wait this long for it before refusing the newcomer
_HANDOVER_S = 2.0


class _PtyPort:
    """What RFC 2217's PortManager asks of a serial port, for a pty: the line settings a host
    sends are kept and have no effect (a pty has no baud rate), the modem lines are those of a
    connected USB CDC device, and a purge flushes the board's unread output."""

    cts = dsr = cd = True
    ri = False

    def __init__(self, fd):
        self.fd = fd
        self.baudrate, self.bytesize, self.parity, self.stopbits = 115200, 8, "N", 1
        self.xonxoff = self.rtscts = False
        self.dtr = self.rts = True
        self.break_condition = False

    def reset_input_buffer(self):
        termios.tcflush(self.fd, termios.TCIFLUSH)

    def reset_output_buffer(self):
        termios.tcflush(self.fd, termios.TCOFLUSH)


class _Connection:
    """A client socket with the thread-safe write() PortManager sends its replies through."""

    def __init__(self, sock):
        self.sock = sock
        self._lock = threading.Lock()

    def write(self, data):
        with self._lock:
            self.sock.sendall(data)


def _listen(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4)
    return s


class SerialBridge:
    """Serves the pty at `link` on host:port to one client at a time, as ser2net does for a USB
    serial port. While no client is connected the board's output is dropped, as a USB board's is
    when no host has its port open."""

    def __init__(self, link, host="127.0.0.1", port=0, protocol="rfc2217"):
        if protocol not in ("rfc2217", "raw"):
            raise ValueError("protocol is rfc2217 or raw, not %r" % protocol)
        self.link = link
        self.protocol = protocol
        self._listener = _listen(host, port)
        self.host, self.port = self._listener.getsockname()[:2]
        self._fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        self._lock = threading.Lock()
        self._client = None          # (_Connection, PortManager or None)
        self._free = threading.Event()
        self._free.set()
        self._closed = False

    def url(self, host=None):
        if self.protocol == "raw":
            return "socket://%s:%d" % (host or self.host, self.port)
        return "rfc2217://%s:%d" % (host or self.host, self.port)

    def start(self):
        for target in (self._accept_loop, self._pty_loop):
            threading.Thread(target=target, daemon=True).start()
        return self

    def close(self):
        self._closed = True
        self._listener.close()
        with self._lock:
            client = self._client
        if client is not None:
            client[0].sock.close()

    def _accept_loop(self):
        while not self._closed:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if not self._free.wait(_HANDOVER_S):
                sock.close()   # the port is open elsewhere, as a local port opened exclusively
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock)
            with self._lock:
                self._free.clear()
                try:
                    manager = rfc2217.PortManager(_PtyPort(self._fd), conn) if self.protocol == "rfc2217" else None
                except OSError:
                    sock.close()
                    self._free.set()
                    continue
                self._client = (conn, manager)
            threading.Thread(target=self._client_loop, args=(conn, manager), daemon=True).start()

    def _client_loop(self, conn, manager):
        try:
            while True:
                data = conn.sock.recv(65536)
                if not data:
                    break
                if manager is not None:
                    data = b"".join(manager.filter(data))
                view = memoryview(data)
                while view:
                    n = os.write(self._fd, view)   # blocks while the board's input is full
                    view = view[n:]
        except OSError:
            pass
        finally:
            with self._lock:
                self._client = None
            conn.sock.close()
            self._free.set()

    def _pty_loop(self):
        while not self._closed:
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.5)
                if not ready:
                    continue
                data = os.read(self._fd, 65536)
            except OSError:
                return
            with self._lock:
                client = self._client
            if client is None:
                continue
            conn, manager = client
            if manager is not None:
                data = b"".join(manager.escape(data))
            try:
                conn.write(data)
            except OSError:
                conn.sock.close()    # its reader ends and frees the port


class RigBridge:
    """Forwards each TCP connection on host:port to the sim's rig socket (line-delimited JSON);
    SimRig connects to it as `socket://HOST:PORT`."""

    def __init__(self, rig_sock, host="127.0.0.1", port=0):
        self.rig_sock = rig_sock
        self._listener = _listen(host, port)
        self.host, self.port = self._listener.getsockname()[:2]
        self._closed = False

    def url(self, host=None):
        return "socket://%s:%d" % (host or self.host, self.port)

    def start(self):
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def close(self):
        self._closed = True
        self._listener.close()

    def _accept_loop(self):
        while not self._closed:
            try:
                outer, _ = self._listener.accept()
            except OSError:
                return
            inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                inner.connect(self.rig_sock)
            except OSError:
                inner.close()
                outer.close()
                continue
            for a, b in ((outer, inner), (inner, outer)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        src.close()
