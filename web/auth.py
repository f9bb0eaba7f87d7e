"""Who is calling: an OpenID Connect access token, checked by PyJWT, turned into a ``Principal``.

- The token's ``iss`` picks one of the configured issuers (anything else is refused). The issuer's
  discovery document (``/.well-known/openid-configuration``) names its ``jwks_uri``; the key set is
  fetched with PyJWT's ``PyJWKClient`` and cached (a ``kid`` not in the cache fetches it once more,
  so a key rotation needs no restart).
- PyJWT checks the signature against that key (asymmetric algorithms only — never ``none`` or an
  HMAC secret), the issuer, the audience and the expiry (30 s leeway for clock skew), and requires
  ``exp``, ``iat``, ``iss``, ``aud`` and ``sub``.
- A token that verified is remembered (by its text, at most ``VERIFIED_CACHE`` of them, least recently
  used first out) until its ``exp``: the caller's next requests with it skip the signature check. A token
  past its ``exp`` is checked afresh (so the leeway and the expiry answer are PyJWT's).
- Staff issuers: roles come from the role claim through the configured mapping (claim value →
  role); the office and municipality from their claims. Resident issuers: every token speaks for a
  debtor, identified by the ``pid`` claim (the national identity number), which is kept in memory
  only — never logged, never stored.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from jwt import PyJWKClient

from web.config import ClaimNames, Issuer
from web.problems import Problem

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_S = 30
VERIFIED_CACHE = 4096


class Role(StrEnum):
    CASEWORKER = "caseworker"
    OFFICE_LEAD = "office_lead"
    COMPLAINTS_BOARD = "complaints_board"
    AUDITOR = "auditor"
    DEBTOR = "debtor"
    BILLING_SYSTEM = "billing_system"
    BANK_INTEGRATION = "bank_integration"  # the office's bank integration: uploads bank files (ADR 0019)


PERSONS = frozenset(Role) - {Role.BILLING_SYSTEM, Role.BANK_INTEGRATION}
"""Roles held by people: their reads of a case go to the access log."""


@dataclass(frozen=True)
class Principal:
    kind: str  # "staff" or "residents"
    subject: str
    issuer: str
    roles: frozenset[Role]
    office: str | None = None
    municipality: str | None = None
    pid: str | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        """Stable and free of personal data: what the access log, the idempotency store and command ids carry."""
        return f"{self.kind}:{self.subject}"

    @property
    def is_person(self) -> bool:
        return bool(self.roles & PERSONS)


def unauthorized(detail: str) -> Problem:
    return Problem(
        "unauthorized",
        detail,
        rule="a valid bearer token from a trusted issuer, for this API, not expired",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class TokenVerifier:
    """Checks tokens of the configured issuers; thread-safe, one per process."""

    def __init__(
        self,
        issuers: tuple[Issuer, ...],
        audience: str,
        role_map: tuple[tuple[str, str], ...],
        claims: ClaimNames,
        cache_seconds: int = 300,
    ) -> None:
        self.issuers = {i.url: i for i in issuers}
        self.audience = audience
        self.role_map = role_map
        self.claims = claims
        self.cache_seconds = cache_seconds
        self._clients: dict[str, PyJWKClient] = {}
        self._lock = threading.Lock()
        self._verified: OrderedDict[str, tuple[float, dict[str, Any], Issuer]] = OrderedDict()

    def remembered(self, authorization: str | None) -> Principal | None:
        """The principal of a bearer token verified before and not yet expired, else None (no I/O: the
        event loop may call it)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        hit = self._hit(token.strip())
        return None if hit is None else self._principal(*hit)

    def _hit(self, token: str) -> tuple[dict[str, Any], Issuer] | None:
        with self._lock:
            found = self._verified.get(token)
            if found is None:
                return None
            if time.time() >= found[0]:
                del self._verified[token]
                return None
            self._verified.move_to_end(token)
            return found[1], found[2]

    def principal(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Problem(
                "unauthorized",
                "the request carries no Authorization header",
                rule="send Authorization: Bearer <access token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("the Authorization header is not 'Bearer <token>'")
        claims, issuer = self.verify(token.strip())
        return self._principal(claims, issuer)

    def verify(self, token: str) -> tuple[dict[str, Any], Issuer]:
        hit = self._hit(token)
        if hit is not None:
            return hit
        claims, issuer = self._verify(token)
        expires = float(claims["exp"])
        if time.time() < expires:
            with self._lock:
                self._verified[token] = (expires, claims, issuer)
                while len(self._verified) > VERIFIED_CACHE:
                    self._verified.popitem(last=False)
        return claims, issuer

    def _verify(self, token: str) -> tuple[dict[str, Any], Issuer]:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise unauthorized("the token is not a JWT") from None
        issuer = self.issuers.get(str(unverified.get("iss", "")))
        if issuer is None:
            raise unauthorized("the token's issuer is not trusted by this API")
        client = self._client(issuer.url)
        try:
            key = client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as e:
            raise Problem("login_unavailable", f"the key set of {issuer.url} cannot be fetched: {e}") from None
        except jwt.PyJWTError:
            raise unauthorized("the token's signing key is not in its issuer's key set") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=issuer.url,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise unauthorized(f"the token is not issued for this API (audience {self.audience})") from None
        except jwt.InvalidSignatureError:
            raise unauthorized("the token's signature does not verify against its issuer's keys") from None
        except jwt.PyJWTError as e:
            raise unauthorized(f"the token is not valid: {e}") from None
        return claims, issuer

    def person(self, access_token: str) -> tuple[Principal, dict[str, Any]]:
        """The principal of a person's login (the web pages) and the access token's claims: the same
        checks as a bearer token."""
        claims, issuer = self.verify(access_token)
        return self._principal(claims, issuer), claims

    def verify_id_token(self, token: str, issuer_url: str, client_id: str, nonce: str) -> dict[str, Any]:
        """An OpenID Connect ID token from the login: signed by ``issuer_url``'s keys, for ``client_id``,
        not expired, carrying the ``nonce`` this login sent (a replayed token fails here)."""
        issuer = self.issuers.get(issuer_url)
        if issuer is None:
            raise unauthorized("the login's issuer is not trusted by this API")
        try:
            key = self._client(issuer.url).get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=client_id,
                issuer=issuer.url,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as e:
            raise Problem("login_unavailable", f"the key set of {issuer.url} cannot be fetched: {e}") from None
        except jwt.PyJWTError as e:
            raise unauthorized(f"the ID token is not valid: {e}") from None
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
            raise unauthorized("the ID token does not answer this login (nonce)")
        return claims

    def _principal(self, claims: dict[str, Any], issuer: Issuer) -> Principal:
        subject = str(claims["sub"])
        if issuer.kind == "residents":
            pid = claims.get(self.claims.pid)
            if not isinstance(pid, str) or not pid.strip():
                raise unauthorized(f"a resident's token must carry the {self.claims.pid} claim")
            return Principal("residents", subject, issuer.url, frozenset({Role.DEBTOR}), pid=pid.strip())
        raw = claims.get(self.claims.roles, [])
        values = {raw} if isinstance(raw, str) else {str(v) for v in raw} if isinstance(raw, list) else set()
        roles = frozenset(Role(role) for value, role in self.role_map if value in values)
        return Principal(
            "staff",
            subject,
            issuer.url,
            roles,
            office=_text(claims.get(self.claims.office)),
            municipality=_text(claims.get(self.claims.municipality)),
        )

    def _client(self, issuer: str) -> PyJWKClient:
        with self._lock:
            client = self._clients.get(issuer)
            if client is None:
                client = PyJWKClient(jwks_uri(issuer), cache_jwk_set=True, lifespan=self.cache_seconds, timeout=10)
                self._clients[issuer] = client
            return client


def jwks_uri(issuer: str) -> str:
    """The key set's address from the issuer's discovery document (which must name the issuer itself)."""
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the issuer URL from settings
            document = json.load(response)
    except (OSError, urllib.error.URLError, ValueError) as e:
        raise Problem("login_unavailable", f"the discovery document of {issuer} cannot be read: {e}") from None
    if document.get("issuer") != issuer or not isinstance(document.get("jwks_uri"), str):
        raise Problem("login_unavailable", f"the discovery document at {url} does not describe {issuer}")
    uri: str = document["jwks_uri"]
    return uri


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
