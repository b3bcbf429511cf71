"""Keep configured secrets out of the logs: a filter that masks them in every record.

The secrets are every `SecretStr` setting (app password, signing secret, tokens, API keys) and
the password inside every `*_url` setting. Any `scheme://user:password@` in a message is masked
too, so a DSN that never was a setting (one typed on a command line, say) does not leak either.
The filter rewrites the message, its arguments and the exception and stack text of a record, so
every handler it is installed on writes the masked text.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, urlsplit

from pydantic import SecretStr

from adapters.settings import Settings

MASK = "***"
# Shorter values would mask ordinary words; nothing of that length is a real secret.
MIN_SECRET_LENGTH = 4
# `scheme://user:password@`, found from its "://" so that every attempt starts at a literal and
# stops at the next "/", "@" or space: consecutive attempts scan disjoint stretches, so a whole
# message costs linear time. (A pattern starting with the scheme, `[A-Za-z][A-Za-z0-9+.-]*://`,
# re-scans a letter run from each of its letters: quadratic, 12 s for 128 KB of unsigned body.)
_URL_PASSWORD = re.compile(r"://[^\s/:@]*+:(?P<password>[^\s/@]++)@")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def _has_scheme(text: str, end: int) -> bool:
    """Whether `text[:end]` ends in a URL scheme: scheme characters that include a letter.

    The scan stops at the first letter or non-scheme character, and the stretch it covers ends
    at a "://", so the stretches of different matches never overlap.
    """
    i = end - 1
    while i >= 0 and text[i] in _SCHEME_CHARS:
        if text[i].isalpha():
            return True
        i -= 1
    return False


def mask_url_passwords(text: str) -> str:
    """The text with the password of every `scheme://user:password@` replaced by the mask."""
    if "://" not in text:
        return text

    def mask(m: re.Match[str]) -> str:
        if not _has_scheme(text, m.start()):
            return m.group(0)
        return text[m.start() : m.start("password")] + MASK + "@"

    return _URL_PASSWORD.sub(mask, text)


def url_password(url: str) -> str | None:
    """The password inside a URL (`scheme://user:password@host/…`), if any."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return password or None


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold: SecretStr values and the passwords of *_url settings."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif name.endswith("_url") and isinstance(value, str):
            password = url_password(value)
            if password:
                found.append(password)
    return found


def _variants(secret: str) -> set[str]:
    """The secret as written, and as it appears percent-encoded (in URLs and form bodies)."""
    return {secret, unquote(secret), quote(secret, safe=""), quote_plus(secret, safe="")}


class SecretRedactor(logging.Filter):
    """A logging filter that replaces known secrets (and URL passwords) by `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values = {v for s in secrets if s for v in _variants(s) if len(v) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another one is masked whole.
        ordered = sorted(values, key=lambda v: (-len(v), v))
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def redact(self, text: str) -> str:
        """The text with every secret masked."""
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return mask_url_passwords(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A broken format string: the handler reports it; mask what can be masked.
            message = str(record.msg)
        masked = self.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install_redaction(
    settings: Settings | None = None,
    logger: logging.Logger | None = None,
    extra: Iterable[str] = (),
) -> SecretRedactor:
    """Mask the settings' secrets on every handler of `logger` (root) and on the last resort.

    Installing again replaces the previous filter, so it is safe to call once per entry point.
    """
    secrets = [*(secret_values(settings) if settings is not None else []), *extra]
    redactor = SecretRedactor(secrets)
    target = logger or logging.getLogger()
    handlers = list(target.handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        for old in [f for f in handler.filters if isinstance(f, SecretRedactor)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    return redactor
