"""The HTTP edge's pure parts: the command table covers the scenario contract, refusals become problem
details with the field and the rule, claims become roles, cursors survive the round trip."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from domain.errors import CommandRefused, ErrorCode, invalid
from domain.scenario import ScenarioRunner
from web import auth
from web.api.commands import COMMANDS
from web.api.pages import decode_cursor, encode_cursor
from web.auth import Role, TokenVerifier
from web.config import ClaimNames, Issuer
from web.problems import Problem, from_refusal

VERSION_1 = {
    "issue_invoice",
    "credit_invoice",
    "register_payment",
    "send_notice",
    "register_objection",
    "resolve_objection",
    "grant_deferral",
    "agree_payment_plan",
    "request_enforcement",
    "register_judgment",
    "register_death",
    "register_proklama",
    "write_off",
    "file_complaint",
    "decide_complaint",
    "run_policies",
}
NEEDS_A_FILE = {"import_payments"}  # a bank file: an upload endpoint of the bank-file issue, not a JSON command


def test_every_version_1_scenario_command_has_an_endpoint() -> None:
    assert VERSION_1 <= {c.name for c in COMMANDS}


def test_every_command_the_scenario_runner_knows_has_an_endpoint() -> None:
    runner_commands = {name.removeprefix("_do_") for name in dir(ScenarioRunner) if name.startswith("_do_")}

    assert runner_commands - NEEDS_A_FILE <= {c.name for c in COMMANDS}


def test_an_invalid_input_refusal_names_its_field_and_rule() -> None:
    problem = from_refusal(invalid("amount", "'12,50' is not a decimal amount"))

    assert (problem.status, problem.code, problem.field, problem.rule) == (
        422,
        "invalid_input",
        "amount",
        "'12,50' is not a decimal amount",
    )
    assert problem.body()["type"] == "/problems/invalid_input"


@pytest.mark.parametrize(
    ("code", "status"),
    [(ErrorCode.NOT_DUE, 409), (ErrorCode.UNKNOWN_INVOICE, 404), (ErrorCode.DEADLINE_TOO_SHORT, 422)],
)
def test_a_refusal_keeps_the_contracts_code(code: ErrorCode, status: int) -> None:
    problem = from_refusal(CommandRefused(code, "why"))

    assert (problem.code, problem.status, problem.body()["rule"]) == (code.value, status, "why")


def verifier(role_map: tuple[tuple[str, str], ...]) -> TokenVerifier:
    issuers = (Issuer("https://login.example/v2.0", "staff"), Issuer("https://idporten.example", "residents"))
    return TokenVerifier(issuers, "kravsak-api", role_map, ClaimNames(roles="groups"))


def test_staff_claims_map_to_roles_through_the_settings() -> None:
    v = verifier((("Kravsak.Caseworker", "caseworker"), ("Kravsak.Lead", "office_lead")))
    claims = {"sub": "abc", "groups": ["Kravsak.Caseworker", "Unrelated"], "office": "VF"}

    principal = v._principal(claims, v.issuers["https://login.example/v2.0"])

    assert principal.roles == {Role.CASEWORKER}
    assert (principal.office, principal.id) == ("VF", "staff:abc")


def test_a_resident_token_is_a_debtor_and_needs_a_pid() -> None:
    v = verifier(())
    residents = v.issuers["https://idporten.example"]

    principal = v._principal({"sub": "pairwise", "pid": "01818030009"}, residents)

    assert principal.roles == {Role.DEBTOR}
    assert "01818030009" not in principal.id and "01818030009" not in repr(principal)
    with pytest.raises(Problem):
        v._principal({"sub": "pairwise"}, residents)


def test_a_cursor_survives_the_round_trip_and_a_made_up_one_is_refused() -> None:
    from datetime import date

    cursor = encode_cursor([date(2025, 3, 1), "5601", "F-1"])

    assert decode_cursor(cursor) == ["2025-03-01", "5601", "F-1"]
    with pytest.raises(Problem) as refused:
        decode_cursor("%%%")
    assert refused.value.field == "cursor"


def test_configured_origins_get_cors_headers_and_others_do_not() -> None:
    from fastapi.testclient import TestClient

    from web.app import create_app
    from web.config import WebConfig

    config = WebConfig(
        pg_dsn="postgresql://nobody@127.0.0.1:1/none",
        eventsourcing_env={},
        issuers=(),
        audience="kravsak-api",
        role_map=(),
        cors_origins=("https://portal.kommune.example",),
    )
    client = TestClient(create_app(config))  # not entered: no lifespan, no database needed for a preflight

    def preflight(origin: str) -> dict[str, str]:
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST",
                   "Access-Control-Request-Headers": "Idempotency-Key"}  # fmt: skip
        return dict(client.options("/commands/issue_invoice", headers=headers).headers)

    assert (
        preflight("https://portal.kommune.example")["access-control-allow-origin"] == "https://portal.kommune.example"
    )
    assert "access-control-allow-origin" not in preflight("https://evil.example")


class _Keys:
    """The issuer's key set as PyJWKClient answers it, counting the look-ups (each one is a full check)."""

    def __init__(self, key: Any) -> None:
        self.key, self.lookups = key, 0

    def get_signing_key_from_jwt(self, token: str) -> Any:
        self.lookups += 1
        return jwt.PyJWK.from_dict(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key())), "RS256")


def _signed(key: Any, **claims: Any) -> str:
    base = {"iss": "https://login.example/v2.0", "aud": "kravsak-api", "sub": "abc", "iat": int(time.time())}
    return jwt.encode({**base, **claims}, key, algorithm="RS256")


def test_a_verified_token_is_remembered_until_its_expiry_and_no_other_token_rides_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    v = verifier((("Kravsak.Caseworker", "caseworker"),))
    keys = _Keys(key)
    monkeypatch.setattr(v, "_client", lambda issuer: keys)
    exp = int(time.time()) + 600
    token = _signed(key, exp=exp, groups=["Kravsak.Caseworker"])

    assert v.remembered(f"Bearer {token}") is None  # not seen yet: the route checks it in a thread
    first = v.principal(f"Bearer {token}")
    again = v.remembered(f"Bearer {token}")
    assert again == first and first.roles == {Role.CASEWORKER}
    v.principal(f"Bearer {token}")
    assert keys.lookups == 1  # the second request skipped the signature check

    forged = _signed(other, exp=exp, groups=["Kravsak.Caseworker"])  # the same claims, another key
    assert v.remembered(f"Bearer {forged}") is None
    with pytest.raises(Problem) as refused:
        v.principal(f"Bearer {forged}")
    assert refused.value.status == 401

    monkeypatch.setattr(time, "time", lambda: exp + 1.0)  # its expiry passed: checked afresh (PyJWT's clock)
    assert v.remembered(f"Bearer {token}") is None
    v.principal(f"Bearer {token}")
    assert keys.lookups == 3
    monkeypatch.undo()


def test_an_expired_token_is_refused_and_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    v = verifier(())
    monkeypatch.setattr(v, "_client", lambda issuer: _Keys(key))
    token = _signed(key, exp=int(time.time()) - 3600)

    with pytest.raises(Problem) as expired:
        v.principal(f"Bearer {token}")
    assert (expired.value.status, expired.value.detail) == (401, "the token has expired")
    assert v.remembered(f"Bearer {token}") is None


def test_the_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    v = verifier(())
    monkeypatch.setattr(v, "_client", lambda issuer: _Keys(key))
    monkeypatch.setattr(auth, "VERIFIED_CACHE", 3)
    tokens = [_signed(key, exp=int(time.time()) + 600, sub=f"s{i}") for i in range(5)]
    for t in tokens:
        v.verify(t)

    assert [v.remembered(f"Bearer {t}") is not None for t in tokens] == [False, False, True, True, True]
