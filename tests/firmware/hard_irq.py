# Calls an interrupt handler the way a hard IRQ would: on MicroPython with the heap locked, so any allocation fails the test.
try:
    import micropython
    _lock = getattr(micropython, "heap_lock", None)
    _unlock = getattr(micropython, "heap_unlock", None)
except ImportError:     # CPython: the handler runs, allocation is not checked
    _lock = _unlock = None


def call_hard(handler, arg):
    if _lock is None:
        handler(arg)
        return
    _lock()
    try:
        handler(arg)
    finally:
        _unlock()
