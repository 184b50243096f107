# TMC2209 stepper chip over its single-wire UART: CRC8 frames, writes proven by IFCNT, current and microstep set-up, fault flags.
#
# The chip's PDN_UART pin is one wire for both directions (TX through 1 kOhm, RX direct), so the
# UART reads back every byte it sends: each transaction skips its own echo. The chip never
# acknowledges a write; its IFCNT register counts the writes it accepted, so a write is read
# before and after. Several registers (IHOLD_IRUN) are write-only: IFCNT is the only proof.
# Called from the main loop (enable, fault polling), never from an interrupt: allocation is fine.
import time

from pump.errors import ConfigError

GCONF = 0x00
GSTAT = 0x01
IFCNT = 0x02
IOIN = 0x06
IHOLD_IRUN = 0x10
CHOPCONF = 0x6C
DRV_STATUS = 0x6F
NAMES = {GCONF: "GCONF", GSTAT: "GSTAT", IFCNT: "IFCNT", IOIN: "IOIN",
         IHOLD_IRUN: "IHOLD_IRUN", CHOPCONF: "CHOPCONF", DRV_STATUS: "DRV_STATUS"}

SYNC = 0x05
WRITE = 0x80
MASTER = 0xFF              # the address byte of every reply

# GCONF bits
I_SCALE_ANALOG = 1 << 0    # 1: current scaled by the VREF pin; we clear it: UART sets the current
PDN_DISABLE = 1 << 6       # the PDN_UART pin is a UART, not a power-down input
MSTEP_REG_SELECT = 1 << 7  # microsteps from CHOPCONF.MRES, not the MS1/MS2 pins (they are the address)
MULTISTEP_FILT = 1 << 8    # the reset default; kept
GCONF_VALUE = PDN_DISABLE | MSTEP_REG_SELECT | MULTISTEP_FILT  # StealthChop, shaft 0: DIR pin rules

# CHOPCONF fields
MRES_SHIFT = 24
MRES_MASK = 0xF << MRES_SHIFT
VSENSE = 1 << 17
MRES = {256: 0, 128: 1, 64: 2, 32: 3, 16: 4, 8: 5, 4: 6, 2: 7, 1: 8}

IHOLDDELAY = 8             # ~0.2 s of ramp from run to hold current once the motor stands still

# Sense voltage at full scale (CS = 31), datasheet: vsense = 0 -> 0.325 V, vsense = 1 -> 0.180 V.
VFS_LOW_SENS = 0.325
VFS_HIGH_SENS = 0.180
R_INTERNAL = 0.02          # ohm the datasheet adds to R_sense (bond wires, switches)
SQRT2 = 1.4142135623730951

# The flags diagnostics() reports. FAULTS stop the motor (the chip has shut its bridges, or its
# configuration is gone); WARNINGS are hints that leave it running.
#   ot: over-temperature shutdown; s2ga/s2gb: short to ground, coil A/B; s2vsa/s2vsb: short across
#   the low-side MOSFET, coil A/B; drv_err: the driver shut down (ot or short); uv_cp: charge pump
#   under-voltage; reset: the chip restarted since configure() (microsteps and current are back
#   to the pins' and VREF's, so a step no longer moves the volume the board was calibrated for).
#   otpw, t120..t157: temperature pre-warning and thresholds; ola/olb: open load on coil A/B, which
#   the datasheet says may show falsely at standstill and in fast motion: only a hint.
DRV_STATUS_BITS = (("otpw", 0), ("ot", 1), ("s2ga", 2), ("s2gb", 3), ("s2vsa", 4), ("s2vsb", 5),
                   ("ola", 6), ("olb", 7), ("t120", 8), ("t143", 9), ("t150", 10), ("t157", 11))
GSTAT_BITS = (("reset", 0), ("drv_err", 1), ("uv_cp", 2))
FAULTS = ("ot", "s2ga", "s2gb", "s2vsa", "s2vsb", "drv_err", "uv_cp", "reset")
WARNINGS = ("otpw", "t120", "t143", "t150", "t157", "ola", "olb")

REPLY_MS = 10              # a reply is 12 bytes with its echo: ~1 ms at 115200 baud
TRIES = 3                  # attempts per read before OSError
BAUD = 115200              # the chip finds the baud rate itself (9600-500k) from each sync byte


def crc8(data, n=None):
    """The datasheet's CRC8 (x^8+x^2+x+1) over data[:n], each byte fed least significant bit first."""
    crc = 0
    if n is None:
        n = len(data)
    for i in range(n):
        b = data[i]
        for _ in range(8):
            if ((crc >> 7) ^ (b & 1)) & 1:
                crc = ((crc << 1) ^ 0x07) & 0xFF
            else:
                crc = (crc << 1) & 0xFF
            b >>= 1
    return crc


def write_frame(address, reg, value):
    f = bytearray((SYNC, address, reg | WRITE, (value >> 24) & 0xFF, (value >> 16) & 0xFF,
                   (value >> 8) & 0xFF, value & 0xFF, 0))
    f[7] = crc8(f, 7)
    return f


def read_frame(address, reg):
    f = bytearray((SYNC, address, reg, 0))
    f[3] = crc8(f, 3)
    return f


def reg_name(reg):
    return "%s (0x%02x)" % (NAMES.get(reg, "register"), reg)


def current_settings(run_current_ma, hold_current_ma, r_sense_ohm=0.11):
    """(vsense, irun, ihold) for rms currents in mA, from the datasheet's
    I_rms = (CS + 1) / 32 * V_fs / (R_sense + 0.02) / sqrt(2), rounded down so the motor never
    gets more than asked. The sensitive range (vsense = 1) is used when it gives the run current
    a finer step (CS < 16 otherwise), as the chip's makers advise; hold shares vsense with run.
    ValueError names the offending argument."""
    if not (isinstance(r_sense_ohm, (int, float)) and 0.05 <= r_sense_ohm <= 1.0):
        raise ValueError("r_sense_ohm: must be a number from 0.05 to 1.0 ohm")
    for key, ma in (("run_current_ma", run_current_ma), ("hold_current_ma", hold_current_ma)):
        if isinstance(ma, bool) or not isinstance(ma, (int, float)) or ma <= 0:
            raise ValueError("%s: must be a number of mA above 0" % key)
    if hold_current_ma > run_current_ma:
        raise ValueError("hold_current_ma: must not exceed run_current_ma")
    r = r_sense_ohm + R_INTERNAL

    def cs(ma, vfs):
        return 32.0 * SQRT2 * (ma / 1000.0) * r / vfs - 1

    run = cs(run_current_ma, VFS_LOW_SENS)
    vsense = 0
    vfs = VFS_LOW_SENS
    if run < 16:
        vsense = 1
        vfs = VFS_HIGH_SENS
        run = cs(run_current_ma, vfs)
    if run >= 32:
        top = int(VFS_LOW_SENS / r / SQRT2 * 1000)
        raise ValueError("run_current_ma: %d mA is above the %d mA this r_sense_ohm allows"
                         % (run_current_ma, top))
    hold = cs(hold_current_ma, vfs)
    if run < 0 or hold < 0:
        low = int(VFS_HIGH_SENS / 32 / r / SQRT2 * 1000) + 1
        raise ValueError("%s: below the smallest current, %d mA, this r_sense_ohm allows"
                         % ("run_current_ma" if run < 0 else "hold_current_ma", low))
    return vsense, int(run), int(hold)


def rms_ma(cs, vsense, r_sense_ohm=0.11):
    """The rms current a CS value gives, in mA (what the chip will actually drive)."""
    vfs = VFS_HIGH_SENS if vsense else VFS_LOW_SENS
    return (cs + 1) / 32.0 * vfs / (r_sense_ohm + R_INTERNAL) / SQRT2 * 1000


class TMC2209:
    def __init__(self, uart, address=0, settings=None):
        self.uart = uart
        self.address = address
        self.settings = settings        # configure()'s arguments, for apply()
        self._reply = bytearray(8)

    # ---- the bus --------------------------------------------------------------------------

    def _drain(self):
        while self.uart.any():
            self.uart.read()

    def _collect(self, buf, start, ms):
        """Bytes read into buf from index start until it is full or ms pass; the count read."""
        got = start
        want = len(buf)
        t0 = time.ticks_ms()
        while got < want:
            n = self.uart.any()
            if n:
                data = self.uart.read(min(n, want - got))
                if data:
                    buf[got:got + len(data)] = data
                    got += len(data)
                    continue
            if time.ticks_diff(time.ticks_ms(), t0) > ms:
                break
            time.sleep_us(100)
        return got - start

    def _skip_echo(self, frame):
        """Read back what we just sent. A bus without echo (RX not tied to TX) gives none:
        what came back is then the start of the reply, handed back to be kept."""
        buf = bytearray(len(frame))
        got = self._collect(buf, 0, REPLY_MS)
        if buf[:got] == frame[:got]:
            return b""
        return bytes(buf[:got])

    def read(self, reg):
        """The 32-bit value of reg. Retried on a bad CRC, a wrong reply or silence; OSError
        after TRIES attempts."""
        frame = read_frame(self.address, reg)
        why = "no reply"
        for _ in range(TRIES):
            self._drain()
            self.uart.write(frame)
            head = self._skip_echo(frame)
            r = self._reply
            r[:len(head)] = head
            got = len(head) + self._collect(r, len(head), REPLY_MS)
            if got < 8:
                why = "no reply" if got == 0 else "short reply (%d bytes)" % got
            elif r[0] != SYNC or r[1] != MASTER or r[2] != reg:
                why = "unexpected reply %r" % (bytes(r),)
            elif crc8(r, 7) != r[7]:
                why = "bad CRC"
            else:
                return (r[3] << 24) | (r[4] << 16) | (r[5] << 8) | r[6]
            time.sleep_ms(1)    # let a half-sent reply end before the next request
        raise OSError("tmc2209 at address %d: %s reading %s after %d tries"
                      % (self.address, why, reg_name(reg), TRIES))

    def write(self, reg, value):
        """Write reg and prove the chip took it: IFCNT must advance by exactly one."""
        before = self.read(IFCNT) & 0xFF
        frame = write_frame(self.address, reg, value & 0xFFFFFFFF)
        self._drain()
        self.uart.write(frame)
        self._skip_echo(frame)
        after = self.read(IFCNT) & 0xFF
        if (after - before) & 0xFF != 1:
            raise OSError("tmc2209 at address %d: write to %s not taken (IFCNT %d -> %d)"
                          % (self.address, reg_name(reg), before, after))

    # ---- set-up and status ------------------------------------------------------------------

    def configure(self, microsteps, run_current_ma, hold_current_ma, r_sense_ohm=0.11):
        """Hand microsteps and current to the UART (not the MS pins and VREF) and set them;
        clears GSTAT last, so a later reset flag means the chip lost this configuration."""
        mres = MRES.get(microsteps)
        if mres is None:
            raise ValueError("microsteps: must be one of 1, 2, 4, 8, 16, 32, 64, 128, 256")
        vsense, irun, ihold = current_settings(run_current_ma, hold_current_ma, r_sense_ohm)
        self.write(GCONF, GCONF_VALUE)
        chop = self.read(CHOPCONF)
        chop = (chop & ~(MRES_MASK | VSENSE)) | (mres << MRES_SHIFT) | (VSENSE if vsense else 0)
        self.write(CHOPCONF, chop)
        self.write(IHOLD_IRUN, ihold | (irun << 8) | (IHOLDDELAY << 16))
        self.write(GSTAT, 0x7)      # write-1-to-clear: reset, drv_err, uv_cp
        return {"vsense": vsense, "irun": irun, "ihold": ihold,
                "run_ma": rms_ma(irun, vsense, r_sense_ohm),
                "hold_ma": rms_ma(ihold, vsense, r_sense_ohm)}

    def apply(self):
        """configure() with the settings the board file gave (see from_spec)."""
        return self.configure(**self.settings)

    def diagnostics(self):
        """The set flags of DRV_STATUS and GSTAT as {name: True} (names in FAULTS and WARNINGS)."""
        out = {}
        status = self.read(DRV_STATUS)
        for name, bit in DRV_STATUS_BITS:
            if status & (1 << bit):
                out[name] = True
        gstat = self.read(GSTAT)
        for name, bit in GSTAT_BITS:
            if gstat & (1 << bit):
                out[name] = True
        return out

    def fault(self):
        """None, or the fault flags set as a short string (warnings left out). OSError if the
        chip cannot be read: a chip we cannot hear might be over-temperature unseen."""
        d = self.diagnostics()
        bad = [n for n in FAULTS if n in d]
        return ("tmc2209 " + ", ".join(bad)) if bad else None


# ---- board.json -----------------------------------------------------------------------------

def check_options(spec, role="motor"):
    """configure()'s arguments from a stepper's options (microsteps, run_current_ma,
    hold_current_ma, r_sense_ohm) with address; ConfigError names every bad option."""
    problems = []
    path = "drivers.%s." % role
    address = spec.get("address", 0)
    if address not in (0, 1, 2, 3) or isinstance(address, bool):
        problems.append((path + "address", "must be 0, 1, 2 or 3 (the MS1/MS2 pins)"))
    micro = spec.get("microsteps")
    if micro not in MRES or isinstance(micro, bool):
        problems.append((path + "microsteps", "must be one of 1, 2, 4, 8, 16, 32, 64, 128, 256"))
    for key in ("run_current_ma", "hold_current_ma"):
        if key not in spec:
            problems.append((path + key, "missing: the TMC2209's %s current in mA rms"
                             % key.split("_")[0]))
    settings = {"microsteps": micro, "run_current_ma": spec.get("run_current_ma"),
                "hold_current_ma": spec.get("hold_current_ma"),
                "r_sense_ohm": spec.get("r_sense_ohm", 0.11)}
    if not problems:
        try:
            current_settings(settings["run_current_ma"], settings["hold_current_ma"],
                             settings["r_sense_ohm"])
        except ValueError as e:
            key, msg = str(e).split(": ", 1)
            problems.append((path + key, msg))
    if problems:
        raise ConfigError(problems)
    return address, settings


def from_spec(spec, cfg, role="motor"):
    """A TMC2209 on the UART a stepper's options describe (uart_id, tx_pin, rx_pin, address and
    the current options), options checked; None when the board gives no uart_id (the chip then
    runs from its MS pins and VREF, as an A4988 would)."""
    if spec.get("uart_id") is None:
        return None
    address, settings = check_options(spec, role)
    from drivers.pins import pin_id
    tx = pin_id(spec, cfg, "tx_pin")
    rx = pin_id(spec, cfg, "rx_pin")
    import machine
    try:
        uart = machine.UART(spec["uart_id"], baudrate=BAUD, tx=machine.Pin(tx), rx=machine.Pin(rx))
    except TypeError:
        # stm32's UARTs have fixed pins and take no tx/rx: tx_pin and rx_pin document the wiring
        uart = machine.UART(spec["uart_id"], baudrate=BAUD)
    return TMC2209(uart, address, settings)
