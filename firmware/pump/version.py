# Firmware and protocol versions reported by `hello`.
FIRMWARE_VERSION = "0.1.0"
PROTOCOL_VERSION = 2     # 2: roles with challenge-response, request ids kept for retries
PROTOCOLS = (2,)         # what this firmware speaks; hello picks the highest the host offers too
