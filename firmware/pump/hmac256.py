# HMAC-SHA256 (RFC 2104) on hashlib.sha256, which every MicroPython port we target has; hmac does not ship.
import hashlib
import binascii

_BLOCK = 64
_IPAD = b"\x36" * _BLOCK
_OPAD = b"\x5c" * _BLOCK


def _xor(key, pad):
    return bytes(key[i] ^ pad[i] for i in range(_BLOCK))


def hmac_sha256(key, msg):
    """The 32-byte HMAC-SHA256 of msg under key (both bytes)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK - len(key))
    inner = hashlib.sha256(_xor(key, _IPAD))
    inner.update(msg)
    outer = hashlib.sha256(_xor(key, _OPAD))
    outer.update(inner.digest())
    return outer.digest()


def hexlify(data):
    return binascii.hexlify(data).decode()


def same(a, b):
    """Compares two byte strings in a time that does not depend on where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def role_key(secret, role):
    """The key of one role, derived from the device secret: a clinician's key file can hold only
    this, so it opens the clinician role and not the service one."""
    return hmac_sha256(secret, b"micropump role " + role.encode())


def auth_mac(key, device_id, role, nonce_hex):
    """What a host proves it holds the role's key with: bound to this device, role and nonce."""
    msg = "micropump auth v1|%s|%s|%s" % (device_id, role, nonce_hex)
    return hmac_sha256(key, msg.encode())
