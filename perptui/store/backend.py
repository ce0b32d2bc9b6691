"""Which backend a database location names, and what both backends share.

A location is a SQLite file path (the default) or a ``postgresql://`` URL.
Everything above the store (commands, jobs, the UI) passes the location through
unchanged; the store picks the backend here, so readers and the writer have one
code path each, parameterised by the connection they get.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PG_SCHEMES = ("postgresql", "postgres")


class BackendError(Exception):
    """A PostgreSQL error seen by a blocking reader (the sqlite3.DatabaseError of that side)."""


# What a reader catches around a query, whichever backend it is reading.
DB_ERRORS: tuple[type[BaseException], ...] = (sqlite3.DatabaseError, BackendError)


def is_postgres(location: Any) -> bool:
    """True for a postgresql:// (or postgres://) URL."""
    if not isinstance(location, str):
        return False
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.lower() in PG_SCHEMES


def location_exists(location: str | os.PathLike[str]) -> bool:
    """Is there a database at `location`?  A PostgreSQL URL is taken to be there (its
    server answers for it when connected); a path must exist on disk."""
    return is_postgres(location) or os.path.exists(os.fspath(location))


def redact(location: str | os.PathLike[str]) -> str:
    """The location as shown to a user: a URL loses its password, a path stays as it is."""
    text = os.fspath(location)
    if not is_postgres(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def url_password(location: str) -> str | None:
    """The password inside a URL, for log redaction (never shown)."""
    if not is_postgres(location):
        return None
    try:
        return urlsplit(location).password
    except ValueError:
        return None
