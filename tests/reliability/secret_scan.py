"""Find the test suite's secrets in log files.

    python -m tests.reliability.secret_scan DIR_OR_FILE [...]

Exits 1 naming file:line and the kind of secret (shown masked) for every hit, 0 when clean, 2 when
a path does not exist. It knows every secret the suite configures: the Teams app password, Slack
signing secret and bot token (tests/bot/support.py), the admin token and LLM API key
(tests/fake_secrets.py), the PostgreSQL password (from PMARK_TEST_POSTGRES_URL /
PMARK_TEST_CHECKPOINT_URL, else scripts/start_postgres.sh's default) and any PMARK_* secret set in
the environment; and the shapes of credentials minted at run time: JSON Web Tokens (the Bot
Framework tokens the stub signs), the stub's connector access tokens, PEM private keys and Slack
tokens.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, urlsplit

REPO = Path(__file__).resolve().parents[2]
MIN_LENGTH = 6

# Environment variables whose value is a secret, or a URL that may carry a password.
SECRET_ENV = (
    "PMARK_ADMIN_TOKEN",
    "PMARK_MICROSOFT_APP_PASSWORD",
    "PMARK_SLACK_BOT_TOKEN",
    "PMARK_SLACK_SIGNING_SECRET",
    "PMARK_LLM_API_KEY",
    "PMARK_WEAVIATE_API_KEY",
)
URL_ENV = (
    "PMARK_TEST_POSTGRES_URL",
    "PMARK_TEST_CHECKPOINT_URL",
    "PMARK_TEST_WEAVIATE_URL",
    "PMARK_TEST_LLM_URL",
    "PMARK_DATABASE_URL",
    "PMARK_POSTGRES_URL",
)

PATTERNS: dict[str, re.Pattern[str]] = {
    "JSON Web Token": re.compile(
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"
    ),
    "connector access token (test stub)": re.compile(r"\bconnector-token-\d+"),
    "PEM private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9][A-Za-z0-9-]{5,}"),
}


@dataclass(frozen=True)
class Finding:
    """One secret on one line of one file."""

    path: Path
    line: int
    kind: str
    masked: str


def mask(value: str) -> str:
    """A hint of which secret it is, without the secret."""
    if len(value) < 10:
        return f"*** ({len(value)} chars)"
    return f"{value[:3]}*** ({len(value)} chars)"


def url_password(url: str) -> str | None:
    """The password of `scheme://user:password@host…`, if any."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def default_postgres_password() -> str | None:
    """The password scripts/start_postgres.sh gives the test role unless told otherwise."""
    script = REPO / "scripts" / "start_postgres.sh"
    try:
        text = script.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"PMARK_PG_PASSWORD:-([^}\s]+)\}", text)
    return match.group(1) if match else None


def known_secrets(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every secret value the suite uses, by what it is."""
    from tests.bot import support
    from tests.fake_secrets import ADMIN_TOKEN, LLM_API_KEY

    env = os.environ if environ is None else environ
    secrets = {
        "Teams app password": support.APP_PASSWORD,
        "Slack signing secret": support.SIGNING_SECRET,
        "Slack bot token": support.BOT_TOKEN,
        "admin token": ADMIN_TOKEN,
        "LLM API key": LLM_API_KEY,
    }
    pg = default_postgres_password()
    if pg:
        secrets["PostgreSQL password (start_postgres.sh)"] = pg
    for name in URL_ENV:
        password = url_password(env.get(name, ""))
        if password:
            secrets[f"password in {name}"] = password
    for name in SECRET_ENV:
        if env.get(name):
            secrets[name] = env[name]
    return secrets


def _variants(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote_plus(value, safe="")}


class Scanner:
    """Matches the literal secrets (as written and percent-encoded) and the credential shapes."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._names: dict[str, str] = {}
        self.too_short: list[str] = []
        for name, value in secrets.items():
            if len(value) < MIN_LENGTH:
                # It would match ordinary words; such a value is no test secret of ours.
                self.too_short.append(name)
                continue
            for variant in _variants(value):
                self._names.setdefault(variant, name)
        ordered = sorted(self._names, key=lambda v: (-len(v), v))
        self._literal = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def line(self, text: str) -> list[tuple[str, str]]:
        """(kind, masked value) of every secret in one line."""
        hits: list[tuple[str, str]] = []
        if self._literal is not None:
            for m in self._literal.finditer(text):
                hits.append((self._names[m.group(0)], mask(m.group(0))))
        for kind, pattern in PATTERNS.items():
            for m in pattern.finditer(text):
                if m.group(0) not in self._names:
                    hits.append((kind, mask(m.group(0))))
        return hits


def scan_lines(path: Path, lines: Iterable[str], scanner: Scanner) -> list[Finding]:
    """Findings in the given lines of `path`."""
    return [
        Finding(path, number, kind, masked)
        for number, text in enumerate(lines, 1)
        for kind, masked in scanner.line(text)
    ]


def scan_files(paths: Iterable[Path], secrets: Mapping[str, str]) -> list[Finding]:
    """Findings in every file (read as UTF-8, undecodable bytes replaced)."""
    scanner = Scanner(secrets)
    findings: list[Finding] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace", newline="") as handle:
                findings.extend(scan_lines(path, handle, scanner))
        except (FileNotFoundError, IsADirectoryError):
            continue
    return findings


def files_under(paths: Sequence[Path]) -> list[Path]:
    """The files named, and every file under the dirs named."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(p for p in sorted(path.rglob("*")) if p.is_file())
        else:
            out.append(path)
    return out


def format_finding(finding: Finding) -> str:
    return f"{finding.path}:{finding.line}: {finding.kind}: {finding.masked}"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: python -m tests.reliability.secret_scan DIR_OR_FILE [...]", file=sys.stderr)
        return 2
    paths = [Path(a) for a in args]
    missing = [p for p in paths if not p.exists()]
    if missing:
        for p in missing:
            print(f"secret scan: no such file or directory: {p}", file=sys.stderr)
        return 2
    files = files_under(paths)
    secrets = known_secrets()
    findings = scan_files(files, secrets)
    for finding in findings:
        print(format_finding(finding))
    if findings:
        print(
            f"secret scan: {len(findings)} secret(s) found in {len(files)} file(s)",
            file=sys.stderr,
        )
        return 1
    print(
        f"secret scan: {len(files)} file(s) clean of {len(secrets)} known secrets and "
        f"{len(PATTERNS)} credential shapes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
