# Tests of the CPython PIO assembler (tests/host/pio_asm.py) against encodings from the RP2040 datasheet and the Pico SDK's examples.

import pytest

from pio_asm import PIO_OUT_LOW, PIO_SHIFT_LEFT, PioAsmError, assemble


def one(body, **options):
    return assemble(body, **options).opcodes


def test_single_instruction_encodings():
    cases = [
        (lambda: nop(), 0xA042),                        # noqa: F821  mov y, y
        (lambda: set(pins, 1), 0xE001),                 # noqa: F821
        (lambda: set(pindirs, 1), 0xE081),              # noqa: F821
        (lambda: set(x, 31), 0xE03F),                   # noqa: F821
        (lambda: pull(), 0x80A0),                       # noqa: F821  blocking by default
        (lambda: pull(block), 0x80A0),                  # noqa: F821
        (lambda: pull(noblock), 0x8080),                # noqa: F821
        (lambda: pull(ifempty, block), 0x80E0),         # noqa: F821
        (lambda: push(), 0x8020),                       # noqa: F821
        (lambda: push(iffull, noblock), 0x8040),        # noqa: F821
        (lambda: jmp(x_dec, 0), 0x0040),                # noqa: F821
        (lambda: jmp(not_x, 3), 0x0023),                # noqa: F821
        (lambda: jmp(y_dec, 7), 0x0087),                # noqa: F821
        (lambda: jmp(x_not_y, 1), 0x00A1),              # noqa: F821
        (lambda: jmp(pin, 2), 0x00C2),                  # noqa: F821
        (lambda: jmp(not_osre, 0), 0x00E0),             # noqa: F821
        (lambda: jmp(5), 0x0005),                       # noqa: F821
        (lambda: mov(y, osr), 0xA047),                  # noqa: F821
        (lambda: mov(x, invert(null)), 0xA02B),         # noqa: F821
        (lambda: mov(isr, x), 0xA0C1),                  # noqa: F821
        (lambda: mov(pins, reverse(isr)), 0xA016),      # noqa: F821
        (lambda: out(x, 16), 0x6030),                   # noqa: F821
        (lambda: out(pins, 32), 0x6000),                # noqa: F821  32 encodes as 0
        (lambda: in_(pins, 1), 0x4001),                 # noqa: F821
        (lambda: in_(osr, 32), 0x40E0),                 # noqa: F821
        (lambda: wait(1, gpio, 5), 0x2085),             # noqa: F821
        (lambda: wait(0, pin, 0), 0x2020),              # noqa: F821
        (lambda: wait(1, irq, rel(2)), 0x20D2),         # noqa: F821
        (lambda: irq(rel(0)), 0xC010),                  # noqa: F821
        (lambda: irq(clear, 3), 0xC043),                # noqa: F821
        (lambda: irq(block, 1), 0xC021),                # noqa: F821
        (lambda: set(pins, 1)[31], 0xFF01),             # noqa: F821  the rp2 blink example
    ]
    for body, want in cases:
        got = one(body)
        assert got == [want], (body.__code__.co_firstlineno, hex(got[0]), hex(want))


def test_the_sdk_ws2812_program_assembles_to_its_published_words():
    # pico-examples ws2812.pio (side-set 1, T1=2, T2=5, T3=3): 0x6221, 0x1123, 0x1400, 0xa442
    def ws2812():
        wrap_target()                                   # noqa: F821
        label("bitloop")                                # noqa: F821
        out(x, 1).side(0)[2]                            # noqa: F821
        jmp(not_x, "do_zero").side(1)[1]                # noqa: F821
        jmp("bitloop").side(1)[4]                       # noqa: F821
        label("do_zero")                                # noqa: F821
        nop().side(0)[4]                                # noqa: F821
        wrap()                                          # noqa: F821

    p = assemble(ws2812, sideset_init=PIO_OUT_LOW, out_shiftdir=PIO_SHIFT_LEFT, autopull=True,
                 pull_thresh=24)
    assert p.opcodes == [0x6221, 0x1123, 0x1400, 0xA442]
    assert (p.wrap_target, p.wrap) == (0, 3)
    assert p.sideset_count == 1
    assert p.emulate_args()["pull_threshold"] == 24


def test_the_sdk_squarewave_program():
    def squarewave():
        set(pindirs, 1)                                 # noqa: F821
        wrap_target()                                   # noqa: F821
        set(pins, 1)[1]                                 # noqa: F821
        set(pins, 0)                                    # noqa: F821
        wrap()                                          # noqa: F821

    p = assemble(squarewave, set_init=PIO_OUT_LOW)
    assert p.opcodes == [0xE081, 0xE101, 0xE000]
    assert (p.wrap_target, p.wrap) == (1, 2)


def test_optional_side_set_sets_its_enable_bit():
    def prog():
        nop().side(1)[3]                                # noqa: F821
        nop()[7]                                        # noqa: F821

    p = assemble(prog, sideset_init=PIO_OUT_LOW, sideset_opt=True)
    assert p.opcodes == [0xA042 | (0b11 << 11) | (3 << 8), 0xA042 | (7 << 8)]


def test_labels_may_be_used_before_they_are_placed():
    def prog():
        jmp("end")                                      # noqa: F821
        nop()                                           # noqa: F821
        label("end")                                    # noqa: F821
        jmp("end")                                      # noqa: F821

    assert assemble(prog).opcodes == [0x0002, 0xA042, 0x0002]


def test_what_the_hardware_cannot_encode_is_refused():
    bad = [
        (lambda: nop()[32], {}),                        # noqa: F821  5 bits of delay
        (lambda: nop().side(0)[16], {"sideset_init": PIO_OUT_LOW}),  # noqa: F821  4 left
        (lambda: nop().side(2), {"sideset_init": PIO_OUT_LOW}),      # noqa: F821  1 bit
        (lambda: nop().side(0), {}),                    # noqa: F821  no side-set pins
        (lambda: set(pins, 32), {}),                    # noqa: F821  5-bit data
        (lambda: set(isr, 1), {}),                      # noqa: F821
        (lambda: mov(pindirs, x), {}),                  # noqa: F821  reserved on RP2040
        (lambda: mov(x, pindirs), {}),                  # noqa: F821
        (lambda: out(x, 0), {}),                        # noqa: F821
        (lambda: in_(pc, 1), {}),                       # noqa: F821
        (lambda: jmp("nowhere"), {}),                   # noqa: F821
        (lambda: jmp(isr, 0), {}),                      # noqa: F821
    ]
    for body, options in bad:
        with pytest.raises(PioAsmError):
            assemble(body, **options)


def test_more_than_32_instructions_is_refused():
    def prog():
        for _ in range(33):
            nop()                                       # noqa: F821

    with pytest.raises(PioAsmError):
        assemble(prog)
