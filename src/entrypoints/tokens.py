"""API tokens: the scopes they may grant, and their parsing from flwd.yaml and FLWD_TOKENS."""

from __future__ import annotations

from dataclasses import dataclass

from flwd.domain.errors import ConfigInvalidError

# sources:write guards the add-on source endpoints of SPEC section 10; a config may grant it now
ALL_SCOPES = frozenset({"jobs:read", "runs:read", "runs:write", "runs:admin", "sources:write"})
DEFAULT_ENV_SCOPES = frozenset({"jobs:read", "runs:read", "runs:write"})

@dataclass(frozen=True, slots=True, kw_only=True)
class TokenGrant:
    """A configured API token, kept only as its SHA-256 digest."""

    name: str
    digest: str
    scopes: frozenset[str]


def token_digest(token: str) -> str:
    import hashlib  # only the server hashes tokens; OpenSSL's start-up is wasted on the CLI

    return hashlib.sha256(token.encode()).hexdigest()


_TOKEN_KEYS = ("name", "scopes", "sha256")


def file_tokens(raw: object, where: str) -> tuple[TokenGrant, ...]:
    if not isinstance(raw, list):
        raise ConfigInvalidError(f"{where}: auth.tokens must be a list", field="auth.tokens")
    grants = []
    for index, item in enumerate(raw):
        key = f"auth.tokens[{index}]"
        if not isinstance(item, dict):
            raise ConfigInvalidError(f"{where}: {key} must be a mapping", field=key)
        name = item.get("name", f"token{index}")
        if not isinstance(name, str) or not name.strip():
            raise ConfigInvalidError(f"{where}: {key}.name must be a non-empty string", field=f"{key}.name")
        entry = f"{key} ({name.strip()!r})"
        unknown = sorted(str(k) for k in item if k not in _TOKEN_KEYS)
        if unknown:  # a misspelt `scopes` would silently grant the default scopes
            raise ConfigInvalidError(f"{where}: {entry}: unknown key {unknown[0]!r} "
                                     f"(known: {', '.join(_TOKEN_KEYS)})", field=f"{key}.{unknown[0]}")
        digest = str(item.get("sha256", "")).lower().removeprefix("sha256:")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigInvalidError(f"{where}: {entry}: sha256 must be a SHA-256 hex digest", field=key)
        raw_scopes = item.get("scopes", sorted(DEFAULT_ENV_SCOPES))
        if not isinstance(raw_scopes, list) or not all(isinstance(s, str) for s in raw_scopes):
            raise ConfigInvalidError(f"{where}: {entry}: scopes must be a list of scope names",
                                     field=f"{key}.scopes")
        scopes = _known_scopes(raw_scopes)
        if scopes is None:
            raise ConfigInvalidError(
                f"{where}: {entry}: unknown scope(s) "
                f"{', '.join(sorted(set(s.strip() for s in raw_scopes) - ALL_SCOPES))} "
                f"(known: {', '.join(sorted(ALL_SCOPES))})", field=f"{key}.scopes")
        grants.append(TokenGrant(name=name.strip(), digest=digest, scopes=scopes))
    return tuple(grants)


def env_tokens(raw: str) -> tuple[TokenGrant, ...]:
    """``FLWD_TOKENS``: entries split by ``;`` or newlines, each ``TOKEN`` (default scopes
    jobs:read, runs:read, runs:write) or ``TOKEN=scope,scope``. The scopes follow the last
    ``=``; an entry ending in ``=`` is all token (base64 padding). Text after the last ``=``
    that is not a list of known scope names is ``config.invalid``: read as part of the token,
    a typo (``ci=read``) would hand out the default scopes, ``runs:write`` included. The
    error names the entry by its position, never by its text (that holds the secret)."""
    entries = [e.strip() for e in raw.replace("\n", ";").split(";")]
    count = sum(1 for e in entries if e)
    grants: list[TokenGrant] = []
    for index, entry in enumerate(entries):
        if not entry:
            continue
        where = f"FLWD_TOKENS: entry {len(grants) + 1} of {count}"
        token, sep, scope_text = entry.rpartition("=")
        if not sep or not scope_text:
            token, scopes = entry, DEFAULT_ENV_SCOPES
        else:
            known = _known_scopes(scope_text.split(","))
            if known is None:
                raise ConfigInvalidError(
                    f"{where}: unknown scope(s) after its last '=' (known: "
                    f"{', '.join(sorted(ALL_SCOPES))}); a token that itself holds '=' followed "
                    "by other text goes in flwd.yaml auth.tokens as its sha256",
                    field="FLWD_TOKENS")
            scopes = known
        if not token.strip():
            raise ConfigInvalidError(f"{where}: the token before '=' is empty", field="FLWD_TOKENS")
        grants.append(TokenGrant(name=f"env{index}", digest=token_digest(token.strip()), scopes=scopes))
    return tuple(grants)


def _known_scopes(names: list[str]) -> frozenset[str] | None:
    """The scopes *names* lists (blanks ignored), or None when any is not a known scope."""
    scopes = frozenset(s.strip() for s in names if s.strip())
    return scopes if scopes <= ALL_SCOPES else None
