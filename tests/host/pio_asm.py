# A small CPython PIO assembler: runs an @rp2.asm_pio function as MicroPython does and encodes it per the RP2040 datasheet §3.4.
#
# asm_pio(**options) is a stand-in for rp2.asm_pio: the decorated function's body is executed twice
# (labels first, then words) with the PIO DSL's names as its globals, and the result is a Program:
# the 16-bit opcodes, wrap target and wrap top, the side-set width and the shift settings, ready
# for pioemu.emulate(). Encodings (datasheet 3.4, "Instruction Set"): bits 15-13 the opcode,
# 12-8 delay and side-set (side-set in the top bits, after the enable bit when optional), 7-0 the
# operands of each instruction.
import types


class Operand:
    """A DSL name (pins, x, osr...), with the MOV operation it carries (invert, reverse)."""

    def __init__(self, name, op=0):
        self.name = name
        self.op = op

    def __invert__(self):
        return Operand(self.name, 1)

    def __repr__(self):
        return self.name


class Flag:
    """block, noblock, iffull, ifempty, clear..."""

    def __init__(self, name):
        self.name = name


class Rel:
    def __init__(self, index):
        self.index = index


class PioAsmError(Exception):
    pass


# per-instruction operand codes: the same name means a different code in each field
JMP_COND = {None: 0, "not_x": 1, "x_dec": 2, "not_y": 3, "y_dec": 4, "x_not_y": 5, "pin": 6,
            "not_osre": 7}
WAIT_SRC = {"gpio": 0, "pin": 1, "irq": 2}
IN_SRC = {"pins": 0, "x": 1, "y": 2, "null": 3, "isr": 6, "osr": 7}
OUT_DEST = {"pins": 0, "x": 1, "y": 2, "null": 3, "pindirs": 4, "pc": 5, "isr": 6, "exec": 7}
MOV_DEST = {"pins": 0, "x": 1, "y": 2, "exec": 4, "pc": 5, "isr": 6, "osr": 7}
MOV_SRC = {"pins": 0, "x": 1, "y": 2, "null": 3, "status": 5, "isr": 6, "osr": 7}
SET_DEST = {"pins": 0, "x": 1, "y": 2, "pindirs": 4}

PIO_OUT_LOW = 2     # rp2.PIO constants the options use
PIO_SHIFT_LEFT = 0
PIO_SHIFT_RIGHT = 1


class Program:
    """What asm_pio produced: opcodes (list of int), wrap_target, wrap (top), sideset_count and
    sideset_opt, the shift settings, and the options it was given."""

    def __init__(self, name, opcodes, wrap_target, wrap, options, labels):
        self.name = name
        self.opcodes = opcodes
        self.wrap_target = wrap_target
        self.wrap = wrap
        self.options = options
        self.labels = labels
        self.sideset_count = _pin_count(options.get("sideset_init"))
        self.sideset_opt = bool(options.get("sideset_opt", False))
        self.out_shiftdir = options.get("out_shiftdir", PIO_SHIFT_LEFT)
        self.in_shiftdir = options.get("in_shiftdir", PIO_SHIFT_LEFT)
        self.autopull = bool(options.get("autopull", False))
        self.autopush = bool(options.get("autopush", False))
        self.pull_thresh = options.get("pull_thresh", 32)
        self.push_thresh = options.get("push_thresh", 32)

    def emulate_args(self):
        """The keyword arguments pioemu.emulate() needs to run this program as configured
        (pin bases are the caller's: side_set_base, set_base, out_base...)."""
        return {"wrap_target": self.wrap_target, "wrap_top": self.wrap,
                "side_set_count": self.sideset_count + (1 if self.sideset_opt else 0),
                "shift_osr_right": self.out_shiftdir == PIO_SHIFT_RIGHT,
                "shift_isr_right": self.in_shiftdir == PIO_SHIFT_RIGHT,
                "auto_pull": self.autopull, "auto_push": self.autopush,
                "pull_threshold": self.pull_thresh, "push_threshold": self.push_thresh}


def _pin_count(init):
    if init is None:
        return 0
    if isinstance(init, (tuple, list)):
        return len(init)
    return 1


class _Instr:
    """One emitted word; .side(v) and [delay] patch it, as in MicroPython's DSL."""

    def __init__(self, emitter, index):
        self.e = emitter
        self.i = index

    def side(self, value):
        e = self.e
        if e.sideset_count == 0:
            raise PioAsmError("side() without sideset_init")
        if value < 0 or value >= (1 << e.sideset_count):
            raise PioAsmError("side value %r does not fit %d bits" % (value, e.sideset_count))
        e.side[self.i] = value
        return self

    def __getitem__(self, delay):
        e = self.e
        if delay < 0 or delay > e.delay_max:
            raise PioAsmError("delay %r: at most %d with this side-set" % (delay, e.delay_max))
        e.delay[self.i] = delay
        return self


class _Emitter:
    def __init__(self, options):
        self.sideset_count = _pin_count(options.get("sideset_init"))
        self.sideset_opt = bool(options.get("sideset_opt", False))
        bits = self.sideset_count + (1 if self.sideset_opt else 0)
        if bits > 5:
            raise PioAsmError("side-set uses %d of the 5 delay/side-set bits" % bits)
        self.delay_max = (1 << (5 - bits)) - 1
        self.labels = {}
        self.start(0)

    def start(self, pass_no):
        self.pass_no = pass_no
        self.base = []          # words without delay and side-set
        self.side = {}
        self.delay = {}
        self.target_at = None
        self.top_at = None

    # ---- encoding -------------------------------------------------------------------------

    def word(self, bits):
        self.base.append(bits)
        if len(self.base) > 32:
            raise PioAsmError("more than 32 instructions")
        return _Instr(self, len(self.base) - 1)

    def finish(self):
        words = []
        bits = self.sideset_count + (1 if self.sideset_opt else 0)
        for i, w in enumerate(self.base):
            d = self.delay.get(i, 0)
            field = d
            if i in self.side:
                s = self.side[i]
                if self.sideset_opt:
                    s |= 1 << self.sideset_count     # the enable bit above the value
                field |= s << (5 - bits)
            # a mandatory side-set left out encodes 0: the pin is driven low, as on MicroPython
            words.append(w | (field << 8))
        return words

    def address(self, target):
        if isinstance(target, int):
            return target
        if self.pass_no == 0:
            return 0
        if target not in self.labels:
            raise PioAsmError("unknown label %r" % (target,))
        return self.labels[target]

    # ---- the DSL --------------------------------------------------------------------------

    def label(self, name):
        if self.pass_no == 0:
            if name in self.labels:
                raise PioAsmError("label %r twice" % (name,))
            self.labels[name] = len(self.base)

    def wrap_target(self):
        self.target_at = len(self.base)

    def wrap(self):
        if not self.base:
            raise PioAsmError("wrap() before any instruction")
        self.top_at = len(self.base) - 1

    def jmp(self, cond, target=None):
        if target is None:
            cond, target = None, cond
        name = cond.name if isinstance(cond, Operand) else cond
        if name not in JMP_COND:
            raise PioAsmError("jmp condition %r" % (cond,))
        addr = self.address(target)
        if not 0 <= addr < 32:
            raise PioAsmError("jmp address %r" % (addr,))
        return self.word(0x0000 | (JMP_COND[name] << 5) | addr)

    def wait(self, polarity, src, index):
        if polarity not in (0, 1) or src.name not in WAIT_SRC:
            raise PioAsmError("wait(%r, %r, %r)" % (polarity, src, index))
        if isinstance(index, Rel):
            index = 0x10 | index.index
        return self.word(0x2000 | (polarity << 7) | (WAIT_SRC[src.name] << 5) | (index & 0x1F))

    def in_(self, src, bits):
        if src.name not in IN_SRC or not 1 <= bits <= 32:
            raise PioAsmError("in_(%r, %r)" % (src, bits))
        return self.word(0x4000 | (IN_SRC[src.name] << 5) | (bits & 0x1F))

    def out(self, dest, bits):
        if dest.name not in OUT_DEST or not 1 <= bits <= 32:
            raise PioAsmError("out(%r, %r)" % (dest, bits))
        return self.word(0x6000 | (OUT_DEST[dest.name] << 5) | (bits & 0x1F))

    def _block(self, flags, cond_name):
        block = 1
        cond = 0
        for f in flags:
            if f.name == "block":
                block = 1
            elif f.name == "noblock":
                block = 0
            elif f.name == cond_name:
                cond = 1
            else:
                raise PioAsmError("flag %r here" % (f.name,))
        return (cond << 6) | (block << 5)

    def push(self, *flags):
        return self.word(0x8000 | self._block(flags, "iffull"))

    def pull(self, *flags):
        return self.word(0x8080 | self._block(flags, "ifempty"))

    def mov(self, dest, src):
        if dest.name not in MOV_DEST or src.name not in MOV_SRC or dest.op:
            raise PioAsmError("mov(%r, %r)" % (dest, src))
        return self.word(0xA000 | (MOV_DEST[dest.name] << 5) | (src.op << 3) | MOV_SRC[src.name])

    def nop(self):
        return self.mov(Operand("y"), Operand("y"))

    def irq(self, *args):
        clear = wait = 0
        index = None
        for a in args:
            if isinstance(a, Flag) and a.name == "clear":
                clear = 1
            elif isinstance(a, Flag) and a.name == "block":
                wait = 1
            elif isinstance(a, Flag) and a.name == "noblock":
                wait = 0
            elif isinstance(a, Rel):
                index = 0x10 | a.index
            elif isinstance(a, int):
                index = a
            else:
                raise PioAsmError("irq(%r)" % (args,))
        if index is None or not 0 <= (index & 0xF) < 8:
            raise PioAsmError("irq index %r" % (index,))
        return self.word(0xC000 | (clear << 6) | (wait << 5) | index)

    def set(self, dest, value):
        if dest.name not in SET_DEST or not 0 <= value < 32:
            raise PioAsmError("set(%r, %r)" % (dest, value))
        return self.word(0xE000 | (SET_DEST[dest.name] << 5) | value)

    def names(self):
        g = {"__builtins__": __builtins__}
        for n in ("pins", "x", "y", "null", "pindirs", "pc", "status", "isr", "osr", "exec",
                  "not_x", "x_dec", "not_y", "y_dec", "x_not_y", "pin", "not_osre", "gpio"):
            g[n] = Operand(n)
        for n in ("block", "noblock", "iffull", "ifempty", "clear"):
            g[n] = Flag(n)
        g["invert"] = lambda o: Operand(o.name, 1)
        g["reverse"] = lambda o: Operand(o.name, 2)
        g["rel"] = Rel
        for n in ("label", "wrap_target", "wrap", "jmp", "wait", "in_", "out", "push", "pull",
                  "mov", "nop", "set"):
            g[n] = getattr(self, n)
        # irq is both an instruction and wait()'s source
        g["irq"] = _IrqName(self)
        return g


class _IrqName(Operand):
    """`irq` in the DSL: a call emits the IRQ instruction, a bare name is wait()'s source."""

    def __init__(self, emitter):
        Operand.__init__(self, "irq")
        self.e = emitter

    def __call__(self, *args):
        return self.e.irq(*args)


def assemble(fn, **options):
    """Run fn (a PIO DSL function) and encode it: a Program."""
    e = _Emitter(options)
    for pass_no in (0, 1):
        e.start(pass_no)
        g = e.names()
        f = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
        f()
    words = e.finish()
    wrap_target = e.target_at if e.target_at is not None else 0
    wrap = e.top_at if e.top_at is not None else len(words) - 1
    return Program(fn.__name__, words, wrap_target, wrap, dict(options), dict(e.labels))


def asm_pio(**options):
    """rp2.asm_pio's stand-in: @asm_pio(...) turns the function into its Program."""
    def decorate(fn):
        return assemble(fn, **options)
    return decorate
