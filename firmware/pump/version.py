# Firmware and protocol versions reported by `hello`.
FIRMWARE_VERSION = "0.1.0"
PROTOCOL_VERSION = 1
