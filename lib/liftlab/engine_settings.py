"""What describes an engine without connecting to one: the name and default of the thread
setting, and engine URLs with their secrets removed.

A leaf module (no engine, no Ibis), so that a run's provenance can be written where results
are only read (a report's kernel). :mod:`liftlab.sources` exports the same names.
"""

from __future__ import annotations

import re

THREADS_ENV = "LIFTLAB_THREADS"
THREADS_DEFAULT = "0"  # all cores


# Query parameters of an engine URL whose values are secrets (compared case-insensitively).
SECRET_PARAMETERS = frozenset(
    {
        "password",
        "sslpassword",
        "passwd",
        "pwd",
        "token",
        "access_token",
        "secret",
        "key",
        "api_key",
        "apikey",
        "auth",
        "sas",
        "signature",
    }
)
_SECRET_PARAMETER = re.compile(
    r"([?&;](?:" + "|".join(sorted(SECRET_PARAMETERS, key=len, reverse=True)) + r")=)[^&;#]*",
    re.IGNORECASE,
)

# The '@' that ends a URL's user:password (the last one followed by a host name).
_USERINFO_END = re.compile(r"@(?=[\w.\-\[\]:%]*(?:[/?#;]|$))")


# What starts a URL inside a URL: a scheme (letters, digits, + . -) and "://", so that a
# password holding "://" is not taken for one.
_NESTED_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def redact(url: str) -> str:
    """The URL without any secret: ``user:secret@`` becomes ``user@`` and the value of a
    query parameter that carries one (``password``, ``token``, ``api_key``, ...; see
    :data:`SECRET_PARAMETERS`) becomes ``***``.

    What it returns is the only form of an engine URL that messages, manifests, reports and
    logs show.
    """
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    if _NESTED_URL.match(rest):  # a URL inside a URL: pyspark://k8s://https://user:secret@host
        return f"{scheme}://{redact(rest)}"
    ends = [m.start() for m in _USERINFO_END.finditer(rest)]
    if ends and ":" in rest[: ends[-1]]:
        rest = rest[: rest.index(":")] + rest[ends[-1] :]  # user:se?c#r/e://t@ -> user@
    cut = min((i for i in (rest.find(c) for c in "?;#") if i >= 0), default=len(rest))
    where, query = rest[:cut], rest[cut:]
    if "@" in where:  # user:secret@host (the secret may hold '@', ':' or '/')
        creds, host = where.rsplit("@", 1)
        where = f"{creds.split(':', 1)[0]}@{host}"
    return f"{scheme}://{where}" + _SECRET_PARAMETER.sub(r"\1***", query)


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's message about ``url``) without any secret ``url`` holds."""
    secrets = [m.group(0).split("=", 1)[1] for m in _SECRET_PARAMETER.finditer(url)]
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    if "@" in rest and ":" in rest.rsplit("@", 1)[0]:
        secrets.append(rest.rsplit("@", 1)[0].split(":", 1)[1])
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text.replace(url, redact(url))
