# The replies to the last few requests that changed something, by id: a retried request never acts twice.
#
# A host that lost a reply sends the same request with the same id again; it gets the first
# reply back, marked "replayed", and nothing runs. Results that are the pump's status are not
# kept (they are big); the replay shows the status as it is now, through the command's replay.
import hashlib

from pump.errors import PumpError, BAD_REQUEST

SIZE = 16


def args_key(args):
    # a digest, not the arguments: a program part's value is kilobytes, and 16 of them kept in
    # RAM would starve the heap
    h = hashlib.sha256()
    for k in sorted(args):
        h.update(("%s=%r;" % (k, args[k])).encode())
    return h.digest()


class RecentRequests:
    def __init__(self, size=SIZE):
        self.size = size
        self._items = []   # [rid, command, args key, ok, result or error or None, replay]

    def find(self, rid, command, key):
        """The kept entry for rid, None if unknown; the same id for another request (another
        command, or arguments whose args_key differs) is refused."""
        item = self.outcome(rid)
        if item is not None and (item[1] != command or item[2] != key):
            raise PumpError(BAD_REQUEST, "id %r was already used for %s: a new request needs "
                            "a new id" % (rid, item[1]), "id")
        return item

    def replay(self, item, ctx, args):
        reply = {"id": item[0], "ok": item[3], "replayed": True}
        if not item[3]:
            reply["error"] = item[4]
        elif item[5] is not None:
            reply["result"] = item[5](ctx, args)
        else:
            reply["result"] = item[4]
        return reply

    def keep(self, rid, command, key, reply, replay):
        if reply["ok"]:
            kept = None if replay is not None else reply["result"]
        else:
            kept = reply["error"]
        self._items.append([rid, command, key, reply["ok"], kept, replay])
        if len(self._items) > self.size:
            self._items.pop(0)

    def outcome(self, rid):
        """What became of a request, for a host that lost the reply: None if this boot never ran it."""
        for item in self._items:
            if item[0] == rid and type(item[0]) is type(rid):
                return item
        return None
