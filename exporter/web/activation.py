"""Listening sockets handed over by systemd socket activation (``--web.systemd-socket``).

systemd opens the sockets of a ``.socket`` unit itself, passes them as file descriptors
from 3 on, and says so in two variables (sd_listen_fds(3))::

    LISTEN_PID=4711   # the process they are meant for
    LISTEN_FDS=2      # descriptors 3 and 4

The exporter then listens on exactly those sockets; the port is the unit's business.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

FIRST_FD = 3


def listen_fds(environ: Mapping[str, str], pid: int) -> range:
    """The descriptors systemd passed to process ``pid``; ``ValueError`` says why there are none.

    >>> listen_fds({"LISTEN_PID": "4711", "LISTEN_FDS": "2"}, 4711)
    range(3, 5)
    """
    owner, count = environ.get("LISTEN_PID"), environ.get("LISTEN_FDS")
    if owner is None or count is None:
        raise ValueError(
            "LISTEN_PID and LISTEN_FDS are not set: start the exporter from a systemd "
            ".socket unit, or listen with --web.listen-address instead"
        )
    if not owner.isdigit() or int(owner) != pid:
        raise ValueError(f"LISTEN_PID={owner} names another process, not this one ({pid})")
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"LISTEN_FDS={count}: expected the number of sockets passed, at least 1")
    return range(FIRST_FD, FIRST_FD + int(count))


def activated_sockets(environ: Mapping[str, str], pid: int) -> list[socket.socket]:
    """The listening stream sockets systemd passed, not inherited by any child process."""
    sockets = []
    for fd in listen_fds(environ, pid):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise ValueError(f"descriptor {fd} from systemd: {exc.strerror}") from None
        if sock.type != socket.SOCK_STREAM or not sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_ACCEPTCONN
        ):
            raise ValueError(f"descriptor {fd} from systemd is not a listening stream socket")
        sock.set_inheritable(False)
        sockets.append(sock)
    return sockets
