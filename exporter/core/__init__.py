"""The pure core: response bytes -> records -> deduplicated windows -> sessions.

Nothing here does I/O or reads a clock; every function takes values and returns values,
so each rule is tested by example, without sockets.
"""
