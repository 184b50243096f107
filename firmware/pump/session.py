# Who is on the link: the role it proved by HMAC-SHA256 challenge-response, and the lockout after failed tries.
#
# The serial link is one session. A host asks for a challenge (a fresh random nonce), answers it
# with HMAC(role key, device|role|nonce), and holds the role until it logs out or is idle for
# IDLE_MS. A nonce answers once: a replayed answer finds no challenge. Times here are real time
# (time.ticks_ms), not the simulated clock: a challenge's life is a round trip over the wire.
import binascii
import json
import os

from pump.errors import PumpError, AUTH_REQUIRED, AUTH_FAILED, AUTH_LOCKED
from pump.hmac256 import role_key, auth_mac, same, hexlify
from pump.recent_requests import RecentRequests

try:
    from time import ticks_ms, ticks_diff
except ImportError:   # CPython runs the firmware's unit tests too
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)  # type: ignore[attr-defined]  # CPython's time

    def ticks_diff(a, b):  # type: ignore[no-redef]  # CPython's stand-in for MicroPython's
        return a - b

AUTH_FILE = "auth.json"     # {"device": id, "key": hex}: written by deploy, never sent back
PATIENT = "patient"
CLINICIAN = "clinician"
SERVICE = "service"
KEYED_ROLES = (CLINICIAN, SERVICE)
NONCE_TTL_MS = 30000        # a challenge must be answered within this
IDLE_MS = 15 * 60000        # a role lapses back to patient after this long without a command
FREE_TRIES = 3              # failed answers in a row before the lockout starts
LOCK_BASE_MS = 10000        # the first lockout; each further failure doubles it...
LOCK_MAX_MS = 300000        # ...up to this


def load_key(path=AUTH_FILE):
    """(device id, secret) from the provisioning file, or (None, None) when there is none usable."""
    try:
        with open(path) as f:
            doc = json.load(f)
        device = doc["device"]
        secret = binascii.unhexlify(doc["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    if not isinstance(device, str) or not 1 <= len(device) <= 32 or len(secret) < 16:
        return None, None
    return device, secret


class Session:
    def __init__(self, device_id=None, secret=None, ms=ticks_ms, log=None):
        self.device_id = None
        self._keys = None
        self.role = PATIENT
        self._ms = ms
        self._last_ms = 0
        self._challenge = None      # (role, nonce, issued ms): the only answer accepted
        self.fails = 0              # failed answers since the last success
        self._lock = None           # (from ms, length ms) while locked out
        self._log = log
        self.recent = RecentRequests()   # whoever holds the link, a retried id never acts twice
        if secret is not None:
            self.provision(device_id, secret)

    def provision(self, device_id, secret):
        self.device_id = device_id
        self._keys = {r: role_key(secret, r) for r in KEYED_ROLES}

    @property
    def provisioned(self):
        return self._keys is not None

    def current_role(self):
        if self.role != PATIENT and ticks_diff(self._ms(), self._last_ms) > IDLE_MS:
            self._end("idle")
        return self.role

    def require(self, role, command):
        """Returns if the link may run a command of this role, else refuses it."""
        if role == PATIENT:
            return
        if self._keys is None:
            if role == SERVICE:
                return   # a pump with no key: service mode stays open so deploy can provision it
            raise PumpError(AUTH_REQUIRED, "%s needs the %s role, and this pump has no device key: "
                            "deploy provisions one" % (command, role), extra={"role": role})
        if self.current_role() != role:
            raise PumpError(AUTH_REQUIRED, "%s needs the %s role: authenticate first"
                            % (command, role), extra={"role": role})
        self._last_ms = self._ms()

    def challenge(self, role):
        self._refuse_if_locked()
        if self._keys is None:
            raise PumpError(AUTH_FAILED, "this pump has no device key: deploy provisions one")
        nonce = hexlify(os.urandom(16))
        self._challenge = (role, nonce, self._ms())
        return {"nonce": nonce, "device": self.device_id, "role": role, "ttl_ms": NONCE_TTL_MS}

    def answer(self, role, nonce, mac_hex):
        self._refuse_if_locked()
        now = self._ms()
        ch, self._challenge = self._challenge, None   # one answer per challenge: a replay finds none
        why = None
        if self._keys is None:
            why = "this pump has no device key"
        elif ch is None or ch[1] != nonce:
            why = "no open challenge with this nonce (stale or replayed)"
        elif ch[0] != role:
            why = "the challenge was for the %s role" % ch[0]
        elif ticks_diff(now, ch[2]) > NONCE_TTL_MS:
            why = "the challenge expired (answer within %d s)" % (NONCE_TTL_MS // 1000)
        else:
            try:
                mac = binascii.unhexlify(mac_hex)
            except ValueError:
                mac = b""
            if not same(mac, auth_mac(self._keys[role], self.device_id, role, nonce)):
                why = "wrong key"
        if why is not None:
            self._failed(role, why, now)
        self.fails = 0
        self.role = role
        self._last_ms = now
        self._note("auth", {"role": role})
        return {"role": role, "idle_s": IDLE_MS // 1000}

    def logout(self):
        if self.role != PATIENT:
            self._end("logout")
        return {"role": self.role}

    def _end(self, why):
        self._note("auth_end", {"role": self.role, "why": why})
        self.role = PATIENT

    def _failed(self, role, why, now):
        self.fails += 1
        self.role = PATIENT   # a failed try ends any session: whoever is typing is not proven
        data = {"role": role, "why": why, "fails": self.fails}
        msg = "authentication failed: %s" % why
        if self.fails >= FREE_TRIES:
            length = min(LOCK_BASE_MS << min(self.fails - FREE_TRIES, 8), LOCK_MAX_MS)
            self._lock = (now, length)
            data["lock_s"] = length // 1000
            msg += "; locked for %d s after %d failures" % (length // 1000, self.fails)
        self._note("auth_fail", data)
        raise PumpError(AUTH_FAILED, msg)

    def _refuse_if_locked(self):
        if self._lock is None:
            return
        left = self._lock[1] - ticks_diff(self._ms(), self._lock[0])
        if left <= 0:
            self._lock = None
            return
        raise PumpError(AUTH_LOCKED, "too many failed attempts: try again in %d s" % ((left + 999) // 1000),
                        extra={"retry_after_s": (left + 999) // 1000})

    def _note(self, kind, data):
        if self._log is not None:
            self._log(kind, data)
