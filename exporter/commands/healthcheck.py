"""``healthcheck``: ask the running exporter's ``/healthz`` where its config says it listens.

For a container's HEALTHCHECK, or any probe that runs a command. It reads the config file
and the ``--web.*`` flags as ``run`` does and asks every listen address (a wildcard one at
loopback), so it follows a changed port and TLS without being edited itself: exit 0 when
each answers 200, else 1 with one line saying why. A config that no longer loads fails
the check too: the exporter would not start with it again.

With ``tls_server_config`` it speaks TLS and trusts one certificate: the first in
``cert_file``, the one the exporter serves. Anything else on the port, another process or a
certificate the exporter did not load, fails the check; the certificate's name (a public
one, not 127.0.0.1) is not compared, its validity dates are. Basic auth leaves ``/healthz``
open, so no password is needed. Client certificates it has none of: where the exporter
requires them, a TLS handshake that completes with the pinned certificate (TLS 1.3 checks
the client's only afterwards) is the check.
"""

from __future__ import annotations

import argparse
import http.client
import re
import ssl
import sys
from pathlib import Path

from exporter.commands import flags
from exporter.config import WebConfig, local_address
from exporter.errors import ConfigError
from exporter.web.webconfig import CLIENT_AUTH_TYPES, TLSServerConfig, WebSecurity

HEALTH_PATH = "/healthz"
TIMEOUT = 4.0
"""Seconds per address, below the 5 s that the image's HEALTHCHECK allows."""
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "healthcheck",
        help="ask the running exporter's /healthz at its configured address; exit 0 if healthy",
    )
    flags.config_file(cmd)
    flags.web(cmd)
    flags.quiet(cmd)
    return cmd


def main(web: WebConfig, security: WebSecurity | None) -> int:
    """Ask each listen address in turn; print one line and return the exit status."""
    tls = security.config.tls_server_config if security is not None else None
    answers = []
    for address in web.listen_address:
        healthy, answer = probe(address, tls)
        if not healthy:
            print(f"unhealthy: {answer}", file=sys.stderr)
            return 1
        answers.append(answer)
    print("healthy: " + ", ".join(answers))
    return 0


def unloadable(exc: ConfigError) -> str:
    """The line for a config that does not load: its problems, on one line."""
    where = f"{exc.source}: invalid configuration: " if exc.source is not None else ""
    return f"unhealthy: {where}{exc}"


def probe(address: str, tls: TLSServerConfig | None, timeout: float = TIMEOUT) -> tuple[bool, str]:
    """Whether the exporter listening on ``address`` answers, and what it answered."""
    host, port = local_address(address)
    shown = f"[{host}]" if ":" in host else host
    url = f"{'https' if tls else 'http'}://{shown}:{port}{HEALTH_PATH}"
    connection = (
        http.client.HTTPSConnection(host, port, timeout=timeout, context=client_context(tls))
        if tls is not None
        else http.client.HTTPConnection(host, port, timeout=timeout)
    )
    try:
        connection.connect()
        if tls is not None and CLIENT_AUTH_TYPES[tls.client_auth_type] == ssl.CERT_REQUIRED:
            return True, f"{url}: TLS handshake done (client certificates required)"
        connection.request("GET", HEALTH_PATH)
        status = connection.getresponse().status
    except ssl.SSLCertVerificationError as exc:
        return False, f"{url}: not the certificate in cert_file: {exc.verify_message}"
    except ssl.SSLError as exc:
        return False, f"{url}: TLS handshake failed: {exc.reason or exc}"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{url}: {_reason(exc)}"
    finally:
        connection.close()
    return status == 200, f"{url} answered {status}"


def client_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """A client context that trusts exactly the first certificate of ``cert_file``.

    ``VERIFY_X509_PARTIAL_CHAIN`` lets that certificate be its own trust anchor, whoever
    issued it; no CA of the system, nor one in ``cert_file``'s chain, is trusted.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    first = _PEM.search(Path(tls.cert_file).read_bytes())
    if first is not None:  # the exporter loaded the file: it holds one
        context.load_verify_locations(cadata=first.group().decode("ascii"))
    return context


def _reason(exc: Exception) -> str:
    """``Connection refused``, ``timed out``, ``RemoteDisconnected``, ..."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__
