"""Moves a program between host and pump: upload in parts, review, confirm by digest, read back."""
import datetime
import json
import time

from host_tools import paths


def local_wall_ms(now=None):
    """The host's local wall-clock time as ms since 1970-01-01 00:00 *local* (the pump's schedule clock)."""
    now = time.time() if now is None else now
    lt = time.localtime(now)
    return int(round((now + lt.tm_gmtoff) * 1000))


def wall_datetime(ms):
    """local_wall_ms's inverse: the pump's local wall ms as a datetime that reads as the pump's
    clock does. It carries no zone: the pump keeps local time, shown as written."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)


def compact(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def upload(client, doc, progress=None, step=None):
    """Send a program in parts and ask for review; returns the pump's review (digest, summary...).
    progress(message) hears each part; step(done, total, path), if given, hears them instead."""
    paths.use_firmware_modules()
    from pump.program import split_parts
    parts = split_parts(doc)
    size = sum(len(compact(v)) for _, v in parts)
    client.request("program_begin", bytes=size, parts=len(parts))
    for i, (path, value) in enumerate(parts):
        if step is not None:
            step(i, len(parts), path or "header")
        elif progress:
            progress("sending part %d of %d (%s)" % (i + 1, len(parts), path or "header"))
        client.request("program_part", index=i, path=path, value=value)
    if step is not None:
        step(len(parts), len(parts), "sent")
    return client.request("program_review", time_ms=local_wall_ms())


def confirm(client, review, override_soft=False):
    return client.request("program_confirm", digest=review["digest"], base=review.get("base") or "",
                          time_ms=local_wall_ms(), override_soft=override_soft)


def download(client):
    """The pump's program as a document (None if it has none) and its digest."""
    first = client.request("program_get", index=0)
    if not first.get("parts"):
        return None, None
    doc = {}
    for i in range(first["parts"]):
        part = first if i == 0 else client.request("program_get", index=i)
        if part["digest"] != first["digest"]:
            # someone loaded another program while we read: start again rather than mix two
            return download(client)
        _put(doc, part["path"], part["value"])
    return doc, first["digest"]


def _put(doc, path, value):
    if not path:
        doc.update(value)
        return
    keys = path.split(".")
    d = doc
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value
