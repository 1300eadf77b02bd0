"""``Authorization: Basic`` checked against the bcrypt hashes of ``basic_auth_users``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Mapping

import bcrypt


class BasicAuth:
    """Checks ``Authorization: Basic`` headers against bcrypt hashes.

    bcrypt costs tens of milliseconds on purpose; a success is remembered as an HMAC (keyed
    with a random per-process key) of the password, so later scrapes compare that in constant
    time instead. Failures are not remembered, and bcrypt runs one check at a time so a flood
    of wrong passwords occupies a single core. An unknown user is checked against a real hash
    too, so the time taken does not tell which users exist.
    """

    def __init__(
        self,
        users: Mapping[str, bytes],
        checkpw: Callable[[bytes, bytes], bool] = bcrypt.checkpw,
    ) -> None:
        self._users, self._checkpw = dict(users), checkpw
        self._decoy = next(iter(self._users.values()))
        self._key = secrets.token_bytes(32)
        self._remembered: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def check(self, authorization: str | None) -> bool:
        credentials = _credentials(authorization)
        if credentials is None:
            return False
        user, password = credentials
        digest = hmac.new(self._key, password, hashlib.sha256).digest()
        if hmac.compare_digest(self._remembered.get(user, b""), digest):
            return True
        hashed = self._users.get(user)
        with self._lock:  # bcrypt uses only the first 72 bytes, as Go and htpasswd do
            matches = self._checkpw(password[:72], hashed or self._decoy)
        if matches and hashed is not None:
            self._remembered[user] = digest
            return True
        return False


def _credentials(authorization: str | None) -> tuple[str, bytes] | None:
    """``"Basic dXNlcjpwdw=="`` -> ``("user", b"pw")``; anything else -> ``None``."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        return (user.decode("utf-8"), password) if colon else None
    except ValueError:  # bad base64, non-ASCII header, or a user name that is not UTF-8
        return None
