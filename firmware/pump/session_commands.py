# The link's session commands: challenge, answer, logout, and what became of a request whose reply was lost.
from pump.commands import COMMANDS
from pump.session import KEYED_ROLES

_cmd = COMMANDS.command
_ROLE = {"type": "str", "choices": KEYED_ROLES, "required": True}
_HEX = {"type": "str", "max_len": 64, "required": True}
_ID = {"type": "oneof", "options": ({"type": "int"}, {"type": "str", "max_len": 64}), "required": True}


@_cmd("auth_challenge", "patient", {"role": _ROLE}, safe_to_repeat=True)
def auth_challenge(app, args):
    return app.session.challenge(args["role"])


@_cmd("auth", "patient", {"role": _ROLE, "nonce": _HEX, "mac": _HEX}, safe_to_repeat=True)
def auth(app, args):
    return app.session.answer(args["role"], args["nonce"], args["mac"])


@_cmd("logout", "patient", safe_to_repeat=True)
def logout(app, args):
    return app.session.logout()


@_cmd("outcome", "patient", {"of": _ID}, safe_to_repeat=True)
def outcome(app, args):
    """Whether this boot ran the request with id `of`, and its reply: the host asks this before it
    tells anyone what happened to a request whose reply it never got."""
    kept = app.session.recent.outcome(args["of"])
    out = {"of": args["of"], "boot": app.boot_number()}
    if kept is None:
        out["known"] = False
        return out
    out["known"] = True
    out["cmd"] = kept[1]
    reply = app.session.recent.replay(kept, app, {})
    out["ok"] = reply["ok"]
    out["reply"] = reply.get("result") if reply["ok"] else reply["error"]
    return out
