# Tests of drivers.tmc2209 (UART frames, CRC, IFCNT-checked writes, set-up, fault flags); run by pytest and tests/mprun.py.
import drivers.tmc2209 as tmc
from drivers.tmc2209 import TMC2209
from pump.errors import ConfigError

import fake_machine
from fake_machine import Trace, FakeTime
from fakes import expect_raises, lcg
from io_fake_chips import FakeTMC2209, crc8_by_division


def _setup(address=0, echo=True):
    trace = Trace()
    tmc.time = FakeTime(trace)
    chip = FakeTMC2209(address, echo)
    uart = chip.uart(trace)
    return trace, chip, uart, TMC2209(uart, address)


def test_read_requests_carry_the_crc_of_frames_published_for_the_chip():
    # read requests sent to real TMC2209s at address 0 (GCONF, IFCNT, IOIN, CHOPCONF, DRV_STATUS)
    published = [b"\x05\x00\x00\x48", b"\x05\x00\x02\x8f", b"\x05\x00\x06\x6f",
                 b"\x05\x00\x6c\xca", b"\x05\x00\x6f\x84"]
    for frame in published:
        assert bytes(tmc.read_frame(0, frame[2])) == frame, frame
        assert crc8_by_division(frame[:3]) == frame[3], frame


def test_crc_agrees_with_polynomial_division_on_arbitrary_frames():
    rnd = lcg(7)
    for _ in range(200):
        data = bytes([rnd(256) for _ in range(7)])
        assert tmc.crc8(data) == crc8_by_division(data), data


def test_write_frame_is_sync_address_register_with_write_bit_data_msb_first_crc():
    f = tmc.write_frame(2, tmc.CHOPCONF, 0x14020053)
    assert bytes(f[:7]) == b"\x05\x02\xec\x14\x02\x00\x53", bytes(f)
    assert f[7] == crc8_by_division(f[:7])


def test_read_skips_the_echo_of_its_own_request():
    trace, chip, uart, t = _setup()
    chip.regs[tmc.DRV_STATUS] = 0xC0FFEE42
    assert t.read(tmc.DRV_STATUS) == 0xC0FFEE42
    assert uart.written == [b"\x05\x00\x6f\x84"]


def test_read_also_works_on_a_bus_without_echo():
    trace, chip, uart, t = _setup(echo=False)
    chip.regs[tmc.CHOPCONF] = 0x12345678
    assert t.read(tmc.CHOPCONF) == 0x12345678


def test_a_bad_crc_is_retried_and_the_good_reply_kept():
    trace, chip, uart, t = _setup()
    chip.regs[tmc.GCONF] = 0x1C0
    chip.bad_crc = 1
    assert t.read(tmc.GCONF) == 0x1C0
    assert len(uart.written) == 2


def test_bad_crc_every_time_raises_oserror_after_bounded_tries():
    trace, chip, uart, t = _setup()
    chip.bad_crc = 1000
    e = expect_raises(OSError, t.read, tmc.DRV_STATUS)
    assert "bad CRC" in str(e) and "DRV_STATUS" in str(e), e
    assert len(uart.written) == tmc.TRIES


def test_a_silent_chip_raises_oserror_within_a_bounded_time():
    trace, chip, uart, t = _setup()
    chip.silent = True
    e = expect_raises(OSError, t.read, tmc.IFCNT)
    assert "no reply" in str(e), e
    assert len(uart.written) == tmc.TRIES
    # two waits (echo, reply) per try, each bounded by REPLY_MS, plus the pause between tries
    assert trace.t_us <= tmc.TRIES * (2 * tmc.REPLY_MS + 3) * 1000, trace.t_us


def test_a_chip_at_another_address_does_not_answer():
    trace, chip, uart, t = _setup(address=0)
    t.address = 1
    expect_raises(OSError, t.read, tmc.GCONF)


def test_write_lands_and_is_proven_by_ifcnt():
    trace, chip, uart, t = _setup()
    t.write(tmc.IHOLD_IRUN, 0x00081910)
    assert chip.writes == [(tmc.IHOLD_IRUN, 0x00081910)]
    assert chip.regs[tmc.IFCNT] == 1
    # IFCNT before, the write, IFCNT after
    assert [w[2] for w in uart.written] == [tmc.IFCNT, tmc.IHOLD_IRUN | 0x80, tmc.IFCNT]


def test_write_the_chip_ignores_raises_oserror_naming_the_register():
    trace, chip, uart, t = _setup()
    chip.ignore_writes = True
    e = expect_raises(OSError, t.write, tmc.CHOPCONF, 0x10000053)
    assert "CHOPCONF" in str(e) and "0x6c" in str(e), e


def test_write_checks_ifcnt_across_its_wrap_from_255_to_0():
    trace, chip, uart, t = _setup()
    chip.regs[tmc.IFCNT] = 255
    t.write(tmc.GCONF, 0x1C0)
    assert chip.regs[tmc.IFCNT] == 0


def test_write_refused_when_ifcnt_moves_by_two():
    # another master (or a doubled frame) wrote too: this write cannot be told apart
    trace, chip, uart, t = _setup()
    real = chip.respond

    def twice(buf):
        out = real(buf)
        if len(buf) == 8:
            chip.regs[tmc.IFCNT] += 1
        return out
    uart.responder = twice
    expect_raises(OSError, t.write, tmc.GCONF, 0x1C0)


def test_configure_16_microsteps_800_ma_run_400_ma_hold_at_0_11_ohm():
    trace, chip, uart, t = _setup()
    got = t.configure(microsteps=16, run_current_ma=800, hold_current_ma=400, r_sense_ohm=0.11)
    # At vsense=0: CS = 32*sqrt2*0.8*0.13/0.325 - 1 = 13.5 < 16, so the sensitive range is used:
    # IRUN = floor(32*sqrt2*0.8*0.13/0.180 - 1) = floor(25.1) = 25,
    # IHOLD = floor(32*sqrt2*0.4*0.13/0.180 - 1) = floor(12.07) = 12.
    assert (got["vsense"], got["irun"], got["ihold"]) == (1, 25, 12), got
    # pdn_disable, mstep_reg_select, multistep_filt; I_scale_analog cleared
    assert chip.regs[tmc.GCONF] == 0x1C0
    # reset default chopper kept, MRES = 4 (16 microsteps) in bits 24-27, vsense bit 17
    assert chip.regs[tmc.CHOPCONF] == 0x14020053, hex(chip.regs[tmc.CHOPCONF])
    assert chip.regs[tmc.IHOLD_IRUN] == 0x0008190C, hex(chip.regs[tmc.IHOLD_IRUN])
    assert chip.regs[tmc.GSTAT] == 0          # the reset flag cleared last
    assert chip.writes[-1][0] == tmc.GSTAT


def test_configure_sets_mres_for_every_microstep_setting():
    for micro, mres in ((256, 0), (1, 8), (2, 7), (32, 3)):
        trace, chip, uart, t = _setup()
        t.configure(micro, 800, 400)
        assert (chip.regs[tmc.CHOPCONF] >> 24) & 0xF == mres, micro


def test_current_is_rounded_down_never_above_what_was_asked():
    for asked in (100, 250, 533, 800, 1000, 1200, 1700):
        vsense, irun, ihold = tmc.current_settings(asked, asked // 2)
        assert tmc.rms_ma(irun, vsense) <= asked, asked
        assert irun == 31 or tmc.rms_ma(irun + 1, vsense) > asked, asked


def test_current_above_what_the_sense_resistor_allows_is_refused():
    e = expect_raises(ValueError, tmc.current_settings, 2500, 400, 0.11)
    assert str(e).startswith("run_current_ma"), e
    e = expect_raises(ValueError, tmc.current_settings, 800, 900, 0.11)
    assert str(e).startswith("hold_current_ma"), e


def test_configure_refuses_a_microstep_count_the_chip_lacks():
    trace, chip, uart, t = _setup()
    expect_raises(ValueError, t.configure, 12, 800, 400)
    assert chip.writes == []


def test_diagnostics_names_the_set_flags_and_fault_only_the_faults():
    trace, chip, uart, t = _setup()
    t.configure(16, 800, 400)
    chip.regs[tmc.DRV_STATUS] = (1 << 1) | (1 << 6) | (1 << 31)    # ot, ola, stst
    d = t.diagnostics()
    assert sorted(d) == ["ola", "ot"], d
    assert t.fault() == "tmc2209 ot"


def test_warnings_alone_are_no_fault():
    trace, chip, uart, t = _setup()
    t.configure(16, 800, 400)
    chip.regs[tmc.DRV_STATUS] = (1 << 0) | (1 << 7) | (1 << 8)      # otpw, olb, t120
    assert sorted(t.diagnostics()) == ["olb", "otpw", "t120"]
    assert t.fault() is None


def test_a_chip_reset_after_configure_is_a_fault():
    # its microsteps and current went back to the pins' and VREF's
    trace, chip, uart, t = _setup()
    t.configure(16, 800, 400)
    chip.regs[tmc.GSTAT] = 1
    assert t.fault() == "tmc2209 reset"


def test_shorts_are_faults():
    trace, chip, uart, t = _setup()
    t.configure(16, 800, 400)
    chip.regs[tmc.DRV_STATUS] = (1 << 2) | (1 << 5)
    assert t.fault() == "tmc2209 s2ga, s2vsb"


def test_options_name_the_bad_ones():
    e = expect_raises(ConfigError, tmc.check_options,
                      {"address": 4, "microsteps": 16, "run_current_ma": 800})
    paths = [p for p, _ in e.problems]
    assert paths == ["drivers.motor.address", "drivers.motor.hold_current_ma"], paths
    e = expect_raises(ConfigError, tmc.check_options,
                      {"microsteps": 16, "run_current_ma": 5000, "hold_current_ma": 400})
    assert e.problems[0][0] == "drivers.motor.run_current_ma", e.problems


def test_options_give_configure_its_arguments():
    address, settings = tmc.check_options({"address": 3, "microsteps": 8, "run_current_ma": 600,
                                           "hold_current_ma": 300})
    assert address == 3
    assert settings == {"microsteps": 8, "run_current_ma": 600, "hold_current_ma": 300,
                        "r_sense_ohm": 0.11}


def test_from_spec_without_uart_id_gives_no_chip_to_talk_to():
    assert tmc.from_spec({"kind": "rp2_pio_stepper", "chip": "tmc2209"}, {"pins": {}}) is None


def test_from_spec_opens_the_uart_on_the_named_pins():
    trace = Trace()
    fake_machine.install(trace)
    try:
        spec = {"uart_id": 1, "tx_pin": "tmc_tx", "rx_pin": "tmc_rx", "address": 2,
                "microsteps": 16, "run_current_ma": 800, "hold_current_ma": 400}
        t = tmc.from_spec(spec, {"pins": {"tmc_tx": 4, "tmc_rx": 5}})
    finally:
        fake_machine.uninstall()
    assert t.address == 2 and t.uart.id == 1 and t.uart.baudrate == tmc.BAUD
    assert t.settings["microsteps"] == 16
