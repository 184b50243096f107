# What the pump keeps across resets and power cuts: the program (A/B store), the delivery journal, the event log.
#
# Every write goes through the board's storage driver. A program is stored as its canonical
# parts, one JSON line each after a header with its digest, so the boot rebuilds it through the
# same validator an upload goes through and refuses it if it no longer compiles to that digest
# (a changed drug library or board file). Policy after any reset: docs/persistence.md.
import gc
import json

from pump.errors import PumpError
from pump.event_log import EventLog
from pump.journal import Journal
from pump.program import ProgramBuilder, canonical_parts, digest
from pump.program_store import ProgramStore, BAD

JOURNAL_VERSION = 1


class StoreRefused(Exception):
    """The store holds program files, but none the pump may use: the message says why."""


class Persistence:
    def __init__(self, storage):
        self.store = ProgramStore(storage)
        self.journal = Journal(storage)
        self.log = EventLog(storage)

    # ---- the program -----------------------------------------------------------------------

    def save_program(self, program, d):
        # one chunk a line, made as it is written: a week of flex steps is never in RAM whole
        def chunks():
            yield json.dumps({"digest": d}).encode()
            for path, value in canonical_parts(program):
                yield b"\n" + json.dumps([path, value]).encode()
        return self.store.save(chunks)

    def clear_program(self):
        self.store.clear()

    def load_program(self, board_cfg, library_fn):
        """(program, digest) from the store, or None when none was ever stored.
        Raises StoreRefused with every reason when slots exist but none can be used."""
        got = self.store.load()
        if got is None:
            if self.store.state == BAD:
                raise StoreRefused("no usable program on flash: " + "; ".join(self.store.problems))
            return None
        seq, body = got
        gc.collect()      # the boot's heap is at its most fragmented: the library is 8 KB of text
        try:
            lines = body.decode().split("\n")
            want = json.loads(lines[0])["digest"]
            builder = ProgramBuilder(board_cfg, library_fn())
            for ln in lines[1:]:
                path, value = json.loads(ln)
                builder.add(path, value)
            program = builder.finish(None)
        except PumpError as e:
            raise StoreRefused("the stored program (slot seq %d) no longer passes the "
                            "checks: %s" % (seq, e.message))
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise StoreRefused("the stored program (slot seq %d) cannot be read: %s" % (seq, e))
        d = digest(program)
        if d != want:
            raise StoreRefused("the stored program compiles to %s, not the %s confirmed: the "
                            "drug library or board file changed" % (d, want))
        return program, d

    # ---- the journal -----------------------------------------------------------------------

    def journal_due(self, now):
        return self.journal.due(now)

    def write_journal(self, now, state, edge_ms=None):
        state["v"] = JOURNAL_VERSION
        state["boot"] = self.log.boot
        return self.journal.write(now, state, edge_ms)

    def last_journal(self):
        """The newest journal record, or None. Raises StoreRefused when journal files exist but
        hold nothing this firmware can use (garbage, torn, or a newer version)."""
        rec = self.journal.last()
        if rec is not None and rec.get("v") == JOURNAL_VERSION:
            return rec
        if rec is not None:
            raise StoreRefused("the journal was written by journal version %r, this firmware "
                               "reads %d: counts start from the program" % (rec.get("v"), JOURNAL_VERSION))
        if self.journal.has_files():
            raise StoreRefused("the journal files hold no valid record: counts start from the program")
        return None

    # ---- the event log ---------------------------------------------------------------------

    def record(self, kind, up_ms, wall_ms, data=None):
        return self.log.add(kind, up_ms, wall_ms, data)
