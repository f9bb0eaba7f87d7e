"""The pages in a real browser: Debian's chromium driven by Playwright, every page checked by axe-core
(no serious or critical violation of WCAG 2.1 A/AA), one journey per role ending with a screenshot
in ``docs/pages/``.

Cost: one browser, one API server and one provider for the whole session (the ``api`` fixture's),
a fresh browser context (its own cookies) per role; ~35 s on a quiet machine.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api.conftest import START, Api, PagesWorld, World, ok

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("KRAVSAK_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
SHOTS = Path(os.environ.get("KRAVSAK_PAGE_SHOTS") or ROOT / ".kravsak" / "pages")
"""Where the screenshots go: ``.kravsak/pages`` (not committed); ``make page-pictures`` sets ``docs/pages``."""
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

if not Path(CHROMIUM).exists():  # the project's system-deps step installs it (tools/system-deps.sh)
    pytest.fail(f"chromium is missing at {CHROMIUM}: run `make system-deps` as root", pytrace=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                  "--disable-dev-shm-usage"],
        )  # fmt: skip
        yield chromium
        chromium.close()


class Visitor:
    """One person in their own browser context: logs in through the provider's login page, checks
    every page it opens with axe."""

    def __init__(self, browser: Any, api: Api, world: PagesWorld, role: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.api, self.axe, self.checked = api, Axe(), 0
        self.context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="nb-NO")
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        kind, username, claims = world.logins[role]
        self.page.goto(f"{api.url}/login")
        self.check()
        self.page.click(f"a[href^='/login/{kind}']")
        # the provider's own login page: a user name and the claims, as a tester types them
        self.page.fill("input[name=username]", username)
        self.page.fill("textarea[name=claims]", json.dumps(claims))
        self.page.click("input[type=submit], button[type=submit]")
        self.page.wait_for_url(re.compile(re.escape(api.url) + r"/(my|desk|board|audit)"))

    def go(self, path: str) -> Any:
        self.page.goto(self.api.url + path)
        self.check()
        return self.page

    def check(self) -> None:
        """axe-core on the page as it is now: no serious or critical violation."""
        results = self.axe.run(self.page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")
        ]
        assert bad == [], f"{self.page.url}: {bad}"
        self.checked += 1

    def submit(self, selector: str = "main form button[type=submit]") -> None:
        self.page.click(selector)
        self.page.wait_for_load_state()
        self.check()

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, api: Api, pages_world: PagesWorld) -> Iterator[Any]:
    opened: list[Visitor] = []

    def make(role: str) -> Visitor:
        opened.append(Visitor(browser, api, pages_world, role))
        return opened[-1]

    yield make
    for v in opened:
        v.close()


def test_the_debtor_sees_both_municipalities_gets_a_plan_at_once_and_writes(
    visit: Any, api: Api, pages_world: PagesWorld
) -> None:
    w = pages_world
    me = visit("debtor")
    page = me.go("/my")
    assert page.locator("html").get_attribute("lang") == "nb"
    text = page.inner_text("main")
    assert f"Kommune {w.creditor_a}" in text and f"Nabokommune {w.creditor_a2}" in text
    assert w.invoices["P1"] in text and w.invoices["P2"] in text and w.invoices["Q1"] not in text
    me.shot("debtor-overview")

    me.go(f"/my/cases/{w.creditor_a}/{w.invoices['P1']}")
    me.go(f"/my/cases/{w.creditor_a}/{w.invoices['P1']}/plan")
    first = (api.clock.today() + timedelta(days=14)).isoformat()
    page.fill("#f-instalments", "4")
    page.fill("#f-first_due", first)
    me.submit()
    assert "godkjent" in page.inner_text("main")  # approved at once: inside the policy's limits
    assert page.locator("main table tbody tr").count() == 4  # the plan, instalment by instalment
    me.shot("debtor-plan-approved")

    me.go("/my/messages")
    page.fill("#f-text", f"Kan jeg betale resten i mai? ({w.invoices['P2']})")
    me.submit()
    assert f"Kan jeg betale resten i mai? ({w.invoices['P2']})" in page.inner_text("main")
    me.shot("debtor-messages")

    for lang, words in (("en", "My claims"), ("sv", "Mina krav")):
        me.go("/my")
        page.click(f"form.langs button[value={lang}]")
        page.wait_for_load_state()
        me.check()
        assert page.locator("html").get_attribute("lang") == lang and words in page.inner_text("main")


def test_the_caseworker_finds_the_message_and_decides_an_objection(
    visit: Any, api: Api, pages_world: PagesWorld
) -> None:
    w = pages_world
    api.catch_up()
    me = visit("caseworker")
    page = me.go("/desk")
    page = me.go("/desk/messages")
    page.click("main table a[href^='/desk/debtors/']")
    page.wait_for_load_state()
    me.check()
    assert f"Kan jeg betale resten i mai? ({w.invoices['P2']})" in page.inner_text(".thread")
    page.fill("#f-text", "Ja, send oss en søknad om betalingsplan.")
    me.submit()
    assert "Ja, send oss en søknad om betalingsplan." in page.inner_text(".thread")
    page = me.go("/desk/objections")
    assert w.invoices["Q1"] in page.inner_text("main")
    page.click(f"main a:text-is('{w.invoices['Q1']}')")
    page.wait_for_load_state()
    me.check()
    page.select_option("#resolve_objection-outcome", "unfounded")
    me.submit("#cmd-resolve_objection button[type=submit]")
    assert page.locator(".notice.success, .flash.success, [role=status]").count() >= 1
    api.catch_up()  # the trail is the read models' (the projector runs as its own service)
    page.reload()
    me.check()
    assert "Objection decided" in page.inner_text("#trail") or "ugrunnet" in page.inner_text("#trail")
    me.shot("desk-case")
    for path in ("/desk/search?q=" + w.invoices["P1"], "/desk/applications", "/desk/limitation", "/desk/suspense",
                 "/desk/refunds"):  # fmt: skip
        me.go(path)
    me.go("/dashboard")
    me.shot("dashboard")


def test_the_board_reads_the_dossier_and_decides_the_complaint(visit: Any, api: Api, pages_world: PagesWorld) -> None:
    w = pages_world
    me = visit("board")
    page = me.go("/board")
    page.fill("#f-creditor", w.creditor_a)  # the board sees every office's complaints: one municipality's
    me.submit()
    page.click(f"main a:text-is('{w.invoices['P3']}')")
    page.wait_for_load_state()
    me.check()
    assert "Rettslig grunnlag" in page.inner_text("main") or "Saksmappen" in page.inner_text("main")
    page.check("#o-breach")
    me.submit()
    api.catch_up()
    page = me.go(f"/board/cases/{w.creditor_a}/{w.invoices['P3']}")
    assert "brudd på god inkassoskikk" in page.inner_text("#decision")
    me.shot("board-decision")


def test_the_auditor_opens_a_case_as_of_an_earlier_date(
    visit: Any, api: Api, world: World, pages_world: PagesWorld
) -> None:
    """Ten days after the office knew P2 a collection warning was sent: the auditor sees the case as
    it was known before it, beside today, and the step recorded since. (The last test of the session's
    API server: it moves the business clock on.)"""
    w = pages_world
    before = api.clock.today()
    api.clock.set(before + timedelta(days=10))
    body = {"creditor": w.creditor_a2, "invoice": w.invoices["P2"], "notice": "inkassovarsel"}
    ok(api.command("send_notice", body, world.tokens["caseworker_a"]))
    api.catch_up()
    me = visit("auditor")
    page = me.go("/audit")
    page.fill("#f-creditor", w.creditor_a2)
    page.fill("#f-invoice", w.invoices["P2"])
    page.fill("#f-on", before.isoformat())
    me.submit()
    main = page.inner_text("main")
    assert w.invoices["P2"] in main and "endret" in main
    assert page.locator("tr.changed").count() >= 1  # the figures that differ are marked
    me.shot("auditor-case-then-and-now")
    page = me.go(f"/audit/cases/{w.creditor_a}/{w.invoices['P1']}?on={(START - timedelta(days=20)).isoformat()}")
    assert "Kontoret kjente ikke til denne saken" in page.inner_text("main")  # before the office knew it
    for path in (f"/audit/cases/{w.creditor_a}/{w.invoices['P1']}/events", "/audit/projections", "/audit/access-log",
                 "/dashboard", "/accessibility"):  # fmt: skip
        me.go(path)
