# Power cut at random bytes while programs are saved and records appended; every reboot is checked.
#
# Each round: power on over the surviving files (fresh store and ring), check them against what
# the previous rounds were told, then save, append and sometimes clear until the power goes at a
# random byte. Deterministic (fakes.lcg), so a failure names a round that replays exactly.

from pump.program_store import BAD, EMPTY, OK, ProgramStore
from pump.record_ring import RecordRing

from fake_flash import OLD, PREFIX, STALE, FakeFlash, PowerCut
from fakes import lcg

CUTS = 1000
K, N = 3, 4          # a small ring, so it wraps many times in a run
BUDGET = 3000        # a cut lands within this many units of the power coming on


_NAMES = ("prog_a", "prog_b", "prog_a.tmp", "prog_b.tmp", "ev0", "ev1", "ev2")


def _lines_in(data):
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class _Truth:
    """What the code under test was told: the last save and append that returned, and the one cut."""

    def __init__(self):
        self.program = None        # (seq, body) of the last save() or None after clear()
        self.cut_save = None       # body of a save() the cut interrupted
        self.cut_clear = False     # a clear() the cut interrupted
        self.record = None         # (seq, payload) of the last append() that returned
        self.cut_record = None     # (seq, payload) of an append() the cut interrupted
        self.sent = {}             # seq -> payload of the last append() tried with that seq


def _check_program(truth, flash, store, got, where):
    prev = truth.program
    if truth.cut_save is not None and got is not None and got != prev:
        # the cut save landed whole: only ever the body it was given, one seq on
        assert got == ((prev[0] if prev else 0) + 1, truth.cut_save), where
        truth.program = got
    elif truth.cut_clear and got is None:
        truth.program = None       # the clear got through before the cut
    else:
        assert got == prev, (where, got and got[0], prev and prev[0], store.problems)
    if truth.program is not None:
        assert store.state == OK, (where, store.state)
    elif store.state == BAD:
        # only FAT can be left with a torn first slot; littlefs only ever tears the .tmp
        assert not flash.atomic_rename, (where, store.problems)
    else:
        assert store.state == EMPTY, where


def _check_ring(truth, ring, flash, where):
    recs = list(ring.records())
    latest = ring.latest()
    assert len(recs) <= K * N, where
    for i in range(K):
        assert _lines_in(flash.files.get("ev%d" % i, b"")) <= N, (where, i)
    for seq, payload in recs:
        assert truth.sent.get(seq) == payload, (where, seq, payload)
    seqs = [s for s, _ in recs]
    if seqs:
        # strictly increasing with no gap: only the oldest, dropped with their segment, are gone
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (where, seqs)
    assert (recs[-1] if recs else None) == latest, where
    if latest != truth.record:
        assert latest == truth.cut_record and latest is not None, (where, latest, truth.record)
        truth.record = latest      # the cut append had landed whole: it is the newest now
    if truth.record is not None:
        # older seqs can never come back: forget them (the run must fit a small heap)
        for seq in [s for s in truth.sent if s <= truth.record[0] - K * N]:
            del truth.sent[seq]


def _fuzz(filesystem, seed):
    rnd = lcg(seed)
    flash = FakeFlash(filesystem)
    truth = _Truth()
    n = 0                          # makes every body and payload unique
    cut_in = {"save": 0, "clear": 0, "append": 0}
    for cut in range(CUTS):
        where = (filesystem, cut)
        flash.reboot()
        store = ProgramStore(flash)
        _check_program(truth, flash, store, store.load(), where)
        ring = RecordRing(flash, "ev", K, N)
        _check_ring(truth, ring, flash, where)
        for name in flash.files:
            assert name in _NAMES, (where, name)
        flash.ops = []
        truth.cut_save = truth.cut_record = None
        truth.cut_clear = False
        torn = PREFIX if rnd(2) else (OLD if flash.atomic_rename else STALE)
        flash.arm(rnd(BUDGET), torn)
        try:
            while True:
                n += 1
                op = rnd(20)
                if op < 3:
                    if rnd(2):
                        body = ("p%d " % n).encode() * rnd(60)
                    else:
                        # one length for many saves: a slot torn over an older body of the same
                        # length passes the length check, and only the CRC can refuse it
                        body = ("%08d" % n).encode() * 20
                    truth.cut_save = body
                    seq = store.save(body)
                    assert seq == (truth.program[0] if truth.program else 0) + 1, where
                    truth.program, truth.cut_save = (seq, body), None
                elif op == 3 and rnd(4) == 0:
                    truth.cut_clear = True
                    if rnd(2):
                        # a clear is two 1-unit removals, which a cut at a uniformly random
                        # byte almost never hits: half the clears get a cut of their own
                        flash.arm(rnd(2), torn)
                    store.clear()
                    truth.program, truth.cut_clear = None, False
                else:
                    payload = '{"n": %d, "pad": "%s"}' % (n, "x" * rnd(60))
                    seq = (truth.record[0] if truth.record else 0) + 1
                    truth.sent[seq] = payload
                    truth.cut_record = (seq, payload)
                    assert ring.append(payload) == seq, where
                    truth.record, truth.cut_record = (seq, payload), None
        except PowerCut:
            if truth.cut_save is not None:
                cut_in["save"] += 1
            elif truth.cut_clear:
                cut_in["clear"] += 1
            else:
                cut_in["append"] += 1
    # the run must have cut every kind of write often, and wrapped the ring many times
    assert cut_in["save"] > CUTS // 5 and cut_in["append"] > CUTS // 5, cut_in
    assert cut_in["clear"] > 0, cut_in
    assert truth.record[0] > 10 * K * N, truth.record
    return flash, cut_in, truth


def test_power_cuts_on_fat_never_corrupt_or_lose_a_saved_program_or_record():
    flash = _fuzz("fat", 11)[0]
    assert not [k for k in flash.files if k.endswith(".tmp")]   # FAT never renames


def test_power_cuts_on_littlefs_never_corrupt_or_lose_a_saved_program_or_record():
    _fuzz("littlefs", 12)
