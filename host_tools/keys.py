"""Device keys on this computer: one file per pump, readable by its owner only, never printed.

A service key file holds the device secret and opens every role. `pumpctl keys export` writes a
file with only the clinician's derived key, for a clinician's computer: it cannot open service.
"""
import binascii
import hashlib
import json
import os
import re

from host_tools import paths

KEYS_ENV = "PUMPCTL_KEYS"
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyStoreError(Exception):
    """A key file cannot be read or written; the message says which and what to do."""


def keys_dir():
    if os.environ.get(KEYS_ENV):
        return os.environ[KEYS_ENV]
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "micropump", "keys")


def _firmware_crypto():
    paths.use_firmware_modules()
    import pump.hmac256 as h   # the pump's own derivation: the host cannot drift from it
    return h


def fingerprint(secret):
    """Names a secret without revealing it (deploy compares the board's with this computer's)."""
    return hashlib.sha256(b"micropump fingerprint " + secret).hexdigest()[:16]


class DeviceKey:
    def __init__(self, device_id, secret=None, role_keys=None, path=None):
        self.device_id = device_id
        self.secret = secret
        self._role_keys = role_keys or {}
        self.path = path

    def roles(self):
        return ("clinician", "service") if self.secret is not None else tuple(sorted(self._role_keys))

    def role_key(self, role):
        if self.secret is not None:
            return _firmware_crypto().role_key(self.secret, role)
        return self._role_keys.get(role)

    def mac(self, role, nonce):
        """The hex answer to a challenge, or None when this file does not hold the role."""
        key = self.role_key(role)
        if key is None:
            return None
        h = _firmware_crypto()
        return h.hexlify(h.auth_mac(key, self.device_id, role, nonce))

    def document(self):
        """The key file's content: the secret, or only the role keys this file holds."""
        if self.secret is not None:
            return {"device": self.device_id, "secret": self.secret.hex()}
        return {"device": self.device_id, "roles": {r: k.hex() for r, k in self._role_keys.items()}}

    def save(self, path):
        write_private(path, self.document())
        self.path = path

    def __repr__(self):   # a key object in a traceback or a log shows no key material
        return "DeviceKey(%r, roles=%r)" % (self.device_id, self.roles())


def path_for(device_id, folder=None):
    if not isinstance(device_id, str) or not _DEVICE_ID.match(device_id):
        raise KeyStoreError("bad device id %r (letters, digits, - and _ only)" % (device_id,))
    return os.path.join(folder or keys_dir(), device_id + ".json")


def read_file(path):
    try:
        with open(path) as f:
            doc = json.load(f)
        device = doc["device"]
        if "secret" in doc:
            return DeviceKey(device, secret=binascii.unhexlify(doc["secret"]), path=path)
        roles = {r: binascii.unhexlify(k) for r, k in doc["roles"].items()}
        return DeviceKey(device, role_keys=roles, path=path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error) as e:
        raise KeyStoreError("cannot read the key file %s: %s" % (path, type(e).__name__))


def load(device_id):
    """The key this computer holds for a pump, or None."""
    path = path_for(device_id)
    if not os.path.exists(path):
        return None
    return read_file(path)


def write_private(path, doc):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    try:
        os.remove(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def create(device_id, secret=None):
    """A new device secret, saved here before it goes to any board: no board holds a key that
    nobody has."""
    key = DeviceKey(device_id, secret=secret if secret is not None else os.urandom(32))
    key.save(path_for(device_id))
    return key


def new_device_id():
    return "pump-" + os.urandom(5).hex()


def export(key, roles, out_path):
    """A key file holding only the given roles' derived keys (e.g. a clinician's)."""
    role_keys = {}
    for role in roles:
        role_keys[role] = key.role_key(role)
        if role_keys[role] is None:
            raise KeyStoreError("the key file for %s does not hold the %s role" % (key.device_id, role))
    DeviceKey(key.device_id, role_keys=role_keys).save(os.path.abspath(out_path))
