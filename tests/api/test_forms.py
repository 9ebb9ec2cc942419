"""``/v1/forms/{form_id}``: signed server-to-server posts and the embeddable browser form (SQLite and PostgreSQL).

The submissions are what X Education's course-enquiry landing page sends (``defaults/forms.yaml``); signed
posts are signed with the ``standardwebhooks`` package as a website backend would.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import Engine, func, select
from standardwebhooks.webhooks import Webhook
from tests.api.conftest import Api
from tests.api.servers import servers

from leadgate.api import create_app
from leadgate.config import Settings
from leadgate.db import make_engine, store, upgrade
from leadgate.db.channel_models import FORM_SUBMISSIONS
from leadgate.governance.consent import statements
from leadgate.ingest.forms import FormsError

FORM = "course-enquiry"
URL = f"/v1/forms/{FORM}/submissions"
SECRET = "whsec_" + base64.b64encode(b"course-enquiry-form-secret-2026!").decode()
ORIGIN = {"Origin": "http://127.0.0.1:8000"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

ENQUIRY = {
    "email": "priya.sharma@gmail.com",
    "first_name": "Priya",
    "last_name": "Sharma",
    "phone": "+91 98200 12345",
    "city": "Mumbai",
    "country": "India",
    "occupation": "Working Professional",
    "specialization": "Finance Management",
    "heard_from": "Online Search",
    "what_matters_most": "Better Career Prospects",
    "free_interview_book": "on",
    "course_updates": True,
    # what landing pages add besides the form's own fields
    "utm_campaign": "pgdm-finance-2026",
    "page_url": "https://www.xeducation.example/courses/pgdm-finance",
}


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api(form_secrets={FORM: SECRET})


def signed(
    body: dict[str, Any], msg_id: str | None = None, at: datetime | None = None, secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    payload = orjson.dumps(body)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, payload.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return payload, headers


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_signed_submission_makes_a_qualified_lead_with_consent(api: Api) -> None:
    payload, headers = signed({"submission_id": "sub_01JDX4W6Q8", "fields": ENQUIRY})
    r = api.client.post(URL, content=payload, headers=headers)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["duplicate"] is False
    assert out["lead_id"].startswith(f"form-{FORM}-")
    assert out["decision"]["lead_id"] == out["lead_id"]
    assert out["ignored_fields"] == ["page_url", "utm_campaign"]
    assert out["consents"] == ["email_marketing"]
    with api.engine.connect() as conn:
        lead = store.get_lead(conn, out["lead_id"])
        consent = statements(conn, out["lead_id"])
    assert lead is not None
    assert lead["source"] == f"form:{FORM}"
    assert (lead["email"], lead["first_name"], lead["city"]) == ("priya.sharma@gmail.com", "Priya", "Mumbai")
    assert lead["attributes"]["occupation"] == "Working Professional"
    assert lead["attributes"]["wants_free_interview_book"] is True
    assert lead["attributes"]["lead_origin"] == "Landing Page Submission"
    assert "utm_campaign" not in lead["attributes"]
    granted = [s for s in consent if s.granted and s.purpose == "email_marketing"]
    assert len(granted) == 1
    assert granted[0].source == "form"
    assert granted[0].wording_version == "course-updates-2026-09"
    assert granted[0].evidence["form_submission_id"] == "sub_01JDX4W6Q8"


def test_double_submit_makes_one_lead(api: Api) -> None:
    body = {"submission_id": "sub_double_click", "fields": ENQUIRY}
    first = api.client.post(URL, content=(p := signed(body))[0], headers=p[1])
    # the backend retries with a new delivery (new webhook-id and timestamp), same submission id
    second = api.client.post(URL, content=(q := signed(body))[0], headers=q[1])
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["duplicate"] is True
    assert second.json()["lead_id"] == first.json()["lead_id"]
    assert second.json()["decision"]["decision_id"] == first.json()["decision"]["decision_id"]
    assert _count(api.engine, store.LEADS) == 1
    assert _count(api.engine, store.DECISIONS) == 1
    assert _count(api.engine, FORM_SUBMISSIONS) == 1


def test_replayed_delivery_without_submission_id_is_a_duplicate(api: Api) -> None:
    payload, headers = signed({"fields": ENQUIRY}, msg_id="msg_2Kf8replay")
    first = api.client.post(URL, content=payload, headers=headers)
    replay = api.client.post(URL, content=payload, headers=headers)  # the same bytes again, within 5 min
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert replay.json()["submission_id"] == "msg_2Kf8replay"
    assert _count(api.engine, store.LEADS) == 1


@pytest.mark.parametrize(
    ("tamper", "detail"),
    [
        ("body", "No matching signature"),
        ("secret", "No matching signature"),
        ("stale", "too old"),
        ("future", "too new"),
        ("missing", "Missing required headers"),
    ],
)
def test_bad_signature_or_timestamp_is_refused_and_nothing_is_stored(
    api: Api, tamper: str, detail: str
) -> None:
    body = {"submission_id": "sub_tamper", "fields": ENQUIRY}
    at = {
        "stale": datetime.now(UTC) - timedelta(minutes=10),
        "future": datetime.now(UTC) + timedelta(minutes=10),
    }
    wrong = "whsec_" + base64.b64encode(b"an-attackers-guess-at-the-secret").decode()
    payload, headers = signed(body, at=at.get(tamper), secret=wrong if tamper == "secret" else SECRET)
    if tamper == "body":
        payload = payload.replace(b"Priya", b"Pryia")
    if tamper == "missing":
        del headers["webhook-id"]
    r = api.client.post(URL, content=payload, headers=headers)
    assert r.status_code == 401, r.text
    assert detail in r.json()["detail"]
    assert _count(api.engine, store.LEADS) == 0
    assert _count(api.engine, FORM_SUBMISSIONS) == 0


def test_form_without_a_secret_takes_no_signed_post(make_api: Callable[..., Api]) -> None:
    api = make_api()  # no LEADGATE_FORM_SECRETS
    payload, headers = signed({"fields": ENQUIRY})
    r = api.client.post(URL, content=payload, headers=headers)
    assert r.status_code == 401
    assert "LEADGATE_FORM_SECRETS" in r.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        ({k: v for k, v in ENQUIRY.items() if k != "email"}, "body.fields.email", "required"),
        ({**ENQUIRY, "email": "priya.sharma@"}, "body.fields.email", "email"),
        ({**ENQUIRY, "free_interview_book": "maybe"}, "body.fields.free_interview_book", "true or false"),
        ({**ENQUIRY, "occupation": ["Student", "Other"]}, "body.fields.occupation", ""),
    ],
)
def test_bad_fields_are_refused_and_kept_as_dead_letters(
    api: Api, fields: dict[str, Any], path: str, reason: str
) -> None:
    payload, headers = signed({"submission_id": "sub_bad", "fields": fields})
    r = api.client.post(URL, content=payload, headers=headers)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert any(e["path"].startswith(path) and reason in e["reason"] for e in errors), errors
    assert _count(api.engine, store.LEADS) == 0
    assert _count(api.engine, store.DEAD) == 1
    with api.engine.connect() as conn:
        dead = store.decrypt_dead_letter(conn, dict(conn.execute(select(store.DEAD)).one()._mapping))
    assert path.removeprefix("body.") in dead["reason"] or "fields" in dead["reason"]
    assert "priya" in orjson.dumps(dead["record"]).decode().lower()  # the submission is kept (encrypted)


def test_invalid_forms_file_stops_the_server_at_startup(make_api: Callable[..., Api], tmp_path: Path) -> None:
    bad = tmp_path / "forms.yaml"
    bad.write_text("forms_version: 1\nforms:\n  contact:\n    fields:\n      email: {to: e_mail}\n")
    with pytest.raises(FormsError) as caught:
        make_api(forms_file=bad)
    assert f"{bad}:5:" in str(caught.value) and "e_mail" in str(caught.value)


def test_unknown_form_is_404(api: Api) -> None:
    payload, headers = signed({"fields": ENQUIRY})
    assert (
        api.client.post("/v1/forms/no-such-form/submissions", content=payload, headers=headers).status_code
        == 404
    )


def _store_refuses_form_leads(engine: Engine, refuse: bool) -> None:
    """Make the database itself refuse (or accept again) form leads, as a failing store would."""
    with engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if not refuse:
            conn.exec_driver_sql("DROP TRIGGER refuse_form_leads" + ("" if sqlite else " ON leads"))
        elif sqlite:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_form_leads BEFORE INSERT ON leads WHEN NEW.source LIKE 'form:%' "
                "BEGIN SELECT RAISE(ABORT, 'leads table is read-only for maintenance'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_form_leads() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'leads table is read-only for maintenance'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_form_leads BEFORE INSERT ON leads FOR EACH ROW "
                "WHEN (starts_with(NEW.source, 'form:')) EXECUTE FUNCTION refuse_form_leads()"
            )


def test_a_submission_the_store_refuses_is_kept_and_can_be_retried(api: Api) -> None:
    body = {"submission_id": "sub_during_maintenance", "fields": ENQUIRY}
    _store_refuses_form_leads(api.engine, True)
    r = api.client.post(URL, content=(p := signed(body))[0], headers=p[1])
    assert r.status_code == 503, r.text
    assert "retry" in r.json()["detail"]
    assert _count(api.engine, store.LEADS) == 0
    assert _count(api.engine, FORM_SUBMISSIONS) == 0  # the claim is given back
    with api.engine.connect() as conn:
        dead = store.decrypt_dead_letter(conn, dict(conn.execute(select(store.DEAD)).one()._mapping))
    assert "read-only for maintenance" in dead["reason"]
    assert dead["record"]["submission_id"] == "sub_during_maintenance"
    _store_refuses_form_leads(api.engine, False)
    retry = api.client.post(URL, content=(q := signed(body))[0], headers=q[1])
    assert retry.status_code == 201, retry.text
    assert _count(api.engine, store.LEADS) == 1


# --------------------------------------------------------------------------- the embeddable browser form


def _ticket(api: Api) -> str:
    r = api.client.post(f"/v1/forms/{FORM}/tickets", headers=ORIGIN)
    assert r.status_code == 200, r.text
    assert r.json()["min_fill_seconds"] == 3
    return str(r.json()["ticket"])


def _later(api: Api, seconds: float) -> None:
    """Move the server's clock: the visitor takes ``seconds`` to fill in the form."""
    state = api.client.app.state.lg  # type: ignore[attr-defined]
    state.clock = lambda: datetime.now(UTC) + timedelta(seconds=seconds)


def test_browser_submission_after_filling_in_the_form(api: Api) -> None:
    ticket = _ticket(api)
    _later(api, 25)
    body = {"submission_id": str(uuid.uuid4()), "ticket": ticket, "fields": {**ENQUIRY, "website": ""}}
    first = api.client.post(URL, json=body, headers=ORIGIN)
    again = api.client.post(URL, json=body, headers=ORIGIN)  # the visitor double-clicks "Send"
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["lead_id"] == first.json()["lead_id"]
    assert _count(api.engine, store.LEADS) == 1


def test_browser_double_submit_without_submission_id_is_one_lead(api: Api) -> None:
    ticket = _ticket(api)
    _later(api, 12)
    body = {"ticket": ticket, "fields": ENQUIRY}
    assert api.client.post(URL, json=body, headers=ORIGIN).status_code == 201
    assert api.client.post(URL, json=body, headers=ORIGIN).json()["duplicate"] is True
    assert _count(api.engine, store.LEADS) == 1


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("too_fast", "looks like a bot"),
        ("honeypot", "honeypot"),
        ("no_ticket", "tickets first"),
        ("forged_ticket", "not a valid ticket"),
    ],
)
def test_browser_bot_signs_are_refused(api: Api, case: str, reason: str) -> None:
    ticket = _ticket(api)
    if case != "too_fast":
        _later(api, 30)
    fields = {**ENQUIRY, "website": "http://cheap-pills.example"} if case == "honeypot" else ENQUIRY
    body: dict[str, Any] = {"fields": fields, "ticket": ticket}
    if case == "no_ticket":
        del body["ticket"]
    if case == "forged_ticket":
        body["ticket"] = ticket[:-4] + ("AAAA" if not ticket.endswith("AAAA") else "BBBB")
    r = api.client.post(URL, json=body, headers=ORIGIN)
    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"][0]["reason"]
    assert _count(api.engine, store.LEADS) == 0
    assert _count(api.engine, store.DEAD) == 1


def test_browser_post_from_another_site_is_refused(api: Api) -> None:
    ticket = _ticket(api)
    _later(api, 30)
    r = api.client.post(
        URL, json={"fields": ENQUIRY, "ticket": ticket}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    assert _count(api.engine, store.LEADS) == 0


# --------------------------------------------------------------------------- two servers, one double submit

RACE_ROUNDS = 10


def _post_together(bases: list[str], payload: bytes, headers: dict[str, str]) -> list[httpx.Response]:
    """POST the same signed body to every server from one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(bases))
    out: list[Any] = [None] * len(bases)

    def post(i: int) -> None:
        with httpx.Client(base_url=bases[i], timeout=60) as client:
            client.get("/healthz")  # connect first: the barrier then releases ready requests
            barrier.wait()
            out[i] = client.post(URL, content=payload, headers=headers)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.mark.slow
def test_double_submit_to_two_servers_at_once_makes_one_lead(db_url: str, tmp_path: Path) -> None:
    """The same submission posted to two ``leadgate serve`` processes at the same instant: one lead."""
    env = {"LEADGATE_FORM_SECRETS": orjson.dumps({FORM: SECRET}).decode()}
    with servers(db_url, tmp_path, count=2, env=env) as bases:
        for n in range(RACE_ROUNDS):
            payload, headers = signed({"submission_id": f"sub_race_{n}", "fields": ENQUIRY})
            responses = _post_together(bases, payload, headers)
            assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
            assert responses[0].json()["lead_id"] == responses[1].json()["lead_id"]
    engine = make_engine(db_url)
    try:
        assert _count(engine, store.LEADS) == RACE_ROUNDS
        assert _count(engine, store.DECISIONS) == RACE_ROUNDS
        assert _count(engine, FORM_SUBMISSIONS) == RACE_ROUNDS
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the embeddable form in Chromium

LANDING_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>X Education: PGDM in Finance</title>
<link rel="icon" href="data:,"><style>.hp {{ position: absolute; left: -9999px; }}</style></head>
<body><h1>Post Graduate Diploma in Finance Management</h1>
<form data-leadgate-form="course-enquiry" data-leadgate-url="{url}">
  <label>Email <input name="email" type="email" required></label>
  <label>First name <input name="first_name"></label>
  <label>Last name <input name="last_name"></label>
  <label>City <input name="city"></label>
  <label>Occupation <select name="occupation"><option>Student</option><option>Working Professional</option>
    <option>Unemployed</option></select></label>
  <label class="hp">Website <input name="website" tabindex="-1" autocomplete="off"></label>
  <label><input type="checkbox" name="course_updates"> Send me updates about X Education courses</label>
  <button type="submit">Request information</button>
  <p data-leadgate-status role="status"></p>
</form>
<script src="{url}/forms.js" defer></script>
</body></html>"""

BROWSER_FORMS = """\
forms_version: 1
forms:
  course-enquiry:
    signed: false
    browser: true
    honeypot: website
    min_fill_seconds: 1
    constants: {lead_origin: Landing Page Submission}
    fields:
      email: {to: email, required: true}
      first_name: {to: first_name}
      last_name: {to: last_name}
      city: {to: city}
      occupation: {to: attributes.occupation}
    consents:
      course_updates: {purpose: email_marketing, wording_version: course-updates-2026-09}
"""


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def landing_site(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A leadgate server (uvicorn thread, SQLite) and a landing page on another origin embedding its form.

    Yields ``(landing page URL, leadgate URL, database URL)``.
    """
    database_url = f"sqlite:///{tmp_path / 'leadgate.db'}"
    upgrade(database_url)
    forms_file = tmp_path / "forms.yaml"
    forms_file.write_text(BROWSER_FORMS)
    api_sock, site_sock = _free_socket(), _free_socket()
    url = f"http://127.0.0.1:{api_sock.getsockname()[1]}"
    site_port = int(site_sock.getsockname()[1])
    site_url = f"http://127.0.0.1:{site_port}"
    settings = Settings(
        database_url=database_url,
        cors_origins=[site_url],
        forms_file=forms_file,
        rate_limit_ip="10000/minute",
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), lifespan="on", ws="none", log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [api_sock]}, daemon=True)
    thread.start()
    page = LANDING_PAGE.format(url=url).encode()

    class Landing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    site_sock.close()
    site = ThreadingHTTPServer(("127.0.0.1", site_port), Landing)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the leadgate server did not start"
    try:
        yield f"{site_url}/courses/pgdm-finance", url, database_url
    finally:
        site.shutdown()
        site.server_close()
        server.should_exit = True
        thread.join(timeout=30)
        api_sock.close()


@pytest.fixture
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium (``/usr/bin/chromium``, installed by ``scripts/setup.sh``), no download."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def test_embedded_form_in_chromium_makes_one_lead_per_visit(
    landing_site: tuple[str, str, str], chromium: Browser
) -> None:
    page_url, _, database_url = landing_site
    context = chromium.new_context()
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    page.goto(page_url)
    page.fill("input[name=email]", "ananya.iyer@outlook.com")
    page.fill("input[name=first_name]", "Ananya")
    page.fill("input[name=last_name]", "Iyer")
    page.fill("input[name=city]", "Bengaluru")
    page.select_option("select[name=occupation]", "Working Professional")
    page.check("input[name=course_updates]")
    page.wait_for_timeout(1200)  # a person takes longer than the form's 1 s minimum
    page.click("button[type=submit]")
    status = page.locator("[data-leadgate-status]")
    expect(status).to_have_text("Thank you! We will be in touch shortly.", timeout=30_000)
    page.click("button[type=submit]")  # clicked again: the same submission id
    expect(status).to_have_attribute("data-kind", "ok", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "forms-embedded.png"), full_page=True)
    # a bot that submits the moment the page loads is refused, and the page says why
    bot = context.new_page()
    bot.goto(page_url)
    bot.fill("input[name=email]", "seo-offers@mailinator.com")
    bot.wait_for_function(
        "() => performance.getEntriesByType('resource').some(e => e.name.endsWith('/tickets'))"
    )
    bot.click("button[type=submit]")
    expect(bot.locator("[data-leadgate-status]")).to_contain_text("looks like a bot", timeout=30_000)
    context.close()
    assert js_errors == []
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(store.LEADS.c.lead_id)).all()
            assert len(rows) == 1
            lead = store.get_lead(conn, rows[0][0])
            consent = statements(conn, rows[0][0])
        assert lead is not None and lead["email"] == "ananya.iyer@outlook.com"
        assert lead["attributes"]["occupation"] == "Working Professional"
        assert [s.purpose for s in consent if s.granted] == ["email_marketing"]
        assert _count(engine, store.DEAD) == 1  # the bot's submission, with its reason
    finally:
        engine.dispose()
