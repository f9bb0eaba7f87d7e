"""The local OpenID provider: NAV's mock-oauth2-server (Maven Central `no.nav.security:mock-oauth2-server`),
started from its jars like Kafka, with two issuers:

- `staff` — caseworkers, office leads, the complaints board, auditors and billing systems. A token
  from its token endpoint carries `roles` and, by role, an `office` or `municipality` claim taken
  from the token request (client credentials: `client_id=<who>&role=caseworker&office=A`).
- `residents` — ID-porten-like: a `pid` claim (the national identity number, from the request's
  `pid` parameter) and `acr=idporten-loa-high`.

People log in to the web pages by the authorization code flow with PKCE: the provider's login page
(`interactiveLogin`) asks for a user name (the token's `sub`) and a JSON object of claims — staff
`{"roles": ["caseworker"], "office": "vest-finnmark"}`, residents `{"pid": "01818030009"}`.

Both sign with RS256 keys published at `<issuer>/jwks` and named in `<issuer>/.well-known/openid-configuration`.
Two fixed staff clients exist for tests of the edge: `wrong-audience` (a token for another API) and
`expired` (a token that expired in 2000). This provider is for development and tests only: anyone who
can reach it can obtain any token. Production names real issuers (KRAVSAK_OIDC_*_ISSUER).

Local layout under `<home>/oidc/`: `lib/<version>/` (jars, see kravsak.stack.maven), `config.json`
(rewritten on every start from the settings), `provider.log`, `oidc.pid`. "Ours" means: the pid in
`oidc.pid` is alive and its command line carries this home's marker property.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

from kravsak.errors import ServerFailedToStart, ServerUnreachable
from kravsak.logs import get_logger
from kravsak.settings import Settings
from kravsak.stack import maven
from kravsak.stack.base import ServiceState, Step
from kravsak.stack.procs import LOOPBACK, command_line, pid_alive, read_pid, require_port_free, tail, wait_until

log = get_logger(__name__)

MAIN_CLASS = "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt"
STAFF, RESIDENTS = "staff", "residents"
EXPIRED_AT = 946_684_800  # 2000-01-01T00:00:00Z
STOP_TIMEOUT_S = 20.0


def provider_program() -> maven.JavaProgram:
    return maven.JavaProgram(
        what="the OpenID provider (mock-oauth2-server)",
        pom=resources.files("kravsak.stack.oidc").joinpath("pom.xml").read_text(),
        version_property="mock-oauth2-server.version",
        main_jar="mock-oauth2-server-{version}.jar",
        pinned_in="kravsak/settings.py",
        external_var="KRAVSAK_OIDC_STAFF_ISSUER and KRAVSAK_OIDC_RESIDENT_ISSUER",
    )


def provider_config(settings: Settings) -> dict[str, Any]:
    """mock-oauth2-server's JSON_CONFIG: the two issuers and what their tokens carry.

    A staff token request names the role (``role=caseworker``) and, by role, the office or the
    municipality; a request without a known role gets a token without roles (refused by the API).
    """
    audience = [settings.oidc_audience]
    base = {"sub": "${client_id}", "aud": audience}
    scoped = {
        "caseworker": {settings.oidc_office_claim: "${office}"},
        "office_lead": {settings.oidc_office_claim: "${office}"},
        "complaints_board": {},
        "auditor": {},
        "billing_system": {settings.oidc_municipality_claim: "${municipality}"},
        "bank_integration": {settings.oidc_office_claim: "${office}"},
    }
    by_role = [
        {
            "requestParam": "role",
            "match": role,
            "claims": {**base, settings.oidc_role_claim: [role], **extra},
        }
        for role, extra in scoped.items()
    ]
    # A person's login (authorization code + PKCE, the web pages): the login page's form gives the
    # subject and the claims (staff: roles and office; residents: pid). The mapping names no `sub`
    # and no template of a token request parameter, so the login's own values stand; its audience
    # is the API's and the web client's (the ID token is checked against the client id).
    login_audience = [settings.oidc_audience, settings.oidc_client_id]
    staff_login = {"requestParam": "grant_type", "match": "authorization_code", "claims": {"aud": login_audience}}
    resident_login = {
        "requestParam": "grant_type",
        "match": "authorization_code",
        "claims": {"aud": login_audience, "acr": "idporten-loa-high"},
    }
    return {
        "interactiveLogin": True,
        "httpServer": "NettyWrapper",
        "tokenCallbacks": [
            {
                "issuerId": STAFF,
                "tokenExpiry": 3600,
                "requestMappings": [
                    {
                        "requestParam": "client_id",
                        "match": "wrong-audience",
                        "claims": {**base, "aud": ["another-api"], settings.oidc_role_claim: ["auditor"]},
                    },
                    {
                        "requestParam": "client_id",
                        "match": "expired",
                        "claims": {**base, "exp": EXPIRED_AT, settings.oidc_role_claim: ["auditor"]},
                    },
                    staff_login,
                    *by_role,
                    {"requestParam": "client_id", "match": "*", "claims": base},
                ],
            },
            {
                "issuerId": RESIDENTS,
                "tokenExpiry": 3600,
                "requestMappings": [
                    resident_login,
                    {
                        "requestParam": "client_id",
                        "match": "*",
                        "claims": {**base, settings.oidc_pid_claim: "${pid}", "acr": "idporten-loa-high"},
                    },
                ],
            },
        ],
    }


def discovery(issuer: str, timeout_s: float = 3.0) -> dict[str, Any] | None:
    """The issuer's OpenID discovery document, or None when it does not answer with one."""
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - http(s) URL from settings
            document: dict[str, Any] = json.load(response)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return document if document.get("issuer") == issuer else None


class LocalOidcProvider:
    name = "OpenID provider"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.home / "oidc"
        self.config_file = self.root / "config.json"
        self.log_file = self.root / "provider.log"
        self.pid_file = self.root / "oidc.pid"
        self.marker = f"-Dkravsak.oidc.home={self.root}"

    def issuers(self) -> list[str]:
        return [f"{self.settings.local_oidc_url}/{STAFF}", f"{self.settings.local_oidc_url}/{RESIDENTS}"]

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is None or not pid_alive(pid):
            return None
        command = command_line(pid) or ""
        return pid if MAIN_CLASS in command and self.marker in command else None

    def answers(self) -> bool:
        return all(discovery(issuer) is not None for issuer in self.issuers())

    def state(self) -> ServiceState:
        pid = self.pid()
        return ServiceState(
            name=self.name,
            state="running" if pid else "stopped",
            address=f"{self.settings.local_oidc_url} (/{STAFF}, /{RESIDENTS})",
            connect=self.settings.local_oidc_url,
            version=f"mock-oauth2-server {self.settings.oidc_version}",
            pid=pid,
            data_dir=self.root,
            log_file=self.log_file,
        )

    def ensure_running(self, step: Step) -> bool:
        pid = self.pid()
        if pid is not None:
            if not wait_until(self.answers, 10):
                raise ServerUnreachable(
                    f"this checkout's OpenID provider (pid {pid}) runs but does not answer on "
                    f"{self.settings.local_oidc_url}",
                    f"read {self.log_file}; `kravsak down` then `kravsak up` restarts it",
                )
            return False
        started_at = time.monotonic()
        java = maven.find_java("the local OpenID provider", "KRAVSAK_OIDC_STAFF_ISSUER")
        require_port_free(
            self.settings.oidc_port,
            server="OpenID provider",
            home=self.settings.home,
            port_var="KRAVSAK_OIDC_PORT",
            external_var="KRAVSAK_OIDC_STAFF_ISSUER / KRAVSAK_OIDC_RESIDENT_ISSUER",
        )
        lib = maven.ensure_jars(self.root, provider_program(), self.settings.oidc_version, step)
        self.config_file.write_text(json.dumps(provider_config(self.settings), indent=2) + "\n")
        step(f"starting the OpenID provider on {self.settings.local_oidc_url}")
        process = self._spawn(java, lib)
        self._wait_until_answering(process)
        log.info(
            "oidc.started",
            pid=process.pid,
            url=self.settings.local_oidc_url,
            seconds=round(time.monotonic() - started_at, 1),
        )
        return True

    def _spawn(self, java: str, lib: Path) -> subprocess.Popen[bytes]:
        command = [
            java,
            "-Xms32m",
            "-Xmx192m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            self.marker,
            "-cp",
            f"{lib}/*",
            MAIN_CLASS,
        ]
        env = {
            **os.environ,
            "SERVER_HOSTNAME": LOOPBACK,
            "SERVER_PORT": str(self.settings.oidc_port),
            "JSON_CONFIG_PATH": str(self.config_file),
            "LOG_LEVEL": "INFO",
        }
        env.pop("JSON_CONFIG", None)  # would win over the file
        with self.log_file.open("ab") as out:
            out.write(f"\n--- kravsak up at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
            out.flush()
            process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return process

    def _wait_until_answering(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.settings.start_timeout
        while time.monotonic() < deadline:
            exit_code = process.poll()
            if exit_code is not None:
                self.pid_file.unlink(missing_ok=True)
                raise ServerFailedToStart(
                    f"the OpenID provider exited with code {exit_code} while starting: "
                    f"{(tail(self.log_file, 1) or 'no output')[:300]}",
                    f"read {self.log_file}; after fixing, `kravsak up` again",
                )
            if self.answers():
                return
            time.sleep(0.3)
        self.stop(lambda _message: None)
        raise ServerFailedToStart(
            f"the OpenID provider did not answer on {self.settings.local_oidc_url} "
            f"within {self.settings.start_timeout:g} s",
            f"read {self.log_file}; raise KRAVSAK_START_TIMEOUT on a slow machine",
        )

    def stop(self, step: Step) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        step(f"stopping the OpenID provider (pid {pid})")
        _signal_group(pid, signal.SIGTERM)
        if not wait_until(lambda: not _alive_reaping(pid), STOP_TIMEOUT_S):
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not _alive_reaping(pid), 10)
        self.pid_file.unlink(missing_ok=True)
        log.info("oidc.stopped", pid=pid)
        return True

    def purge(self) -> list[Path]:
        removed = []
        for path in (self.config_file, self.log_file):
            if path.exists():
                path.unlink()
                removed.append(path)
        return removed


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the provider leads its own process group (start_new_session)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _alive_reaping(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return pid_alive(pid)


class ExternalOidcProvider:
    """Issuers someone else runs (KRAVSAK_OIDC_STAFF_ISSUER and KRAVSAK_OIDC_RESIDENT_ISSUER): checked only."""

    name = "OpenID provider"

    def __init__(self, settings: Settings) -> None:
        self.issuers = [settings.staff_issuer, settings.resident_issuer]

    def ensure_running(self, step: Step) -> bool:
        for issuer in self.issuers:
            step(f"checking the OpenID issuer {issuer}")
            if discovery(issuer, timeout_s=10) is None:
                raise ServerUnreachable(
                    f"the OpenID issuer {issuer} serves no discovery document naming itself",
                    "correct KRAVSAK_OIDC_STAFF_ISSUER / KRAVSAK_OIDC_RESIDENT_ISSUER (exactly the token's iss), "
                    "or unset them to let kravsak run its own provider",
                )
        return False

    def stop(self, step: Step) -> bool:
        return False

    def purge(self) -> list[Path]:
        return []

    def state(self) -> ServiceState:
        answering = [discovery(issuer) is not None for issuer in self.issuers]
        return ServiceState(
            name=self.name,
            state="external" if all(answering) else "unreachable",
            address=", ".join(self.issuers),
            connect=", ".join(self.issuers),
        )
