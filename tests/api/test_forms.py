"""``/v1/forms/{form_id}``: signed server-to-server posts and the embeddable browser form (SQLite and PostgreSQL).

The submissions are what X Education's course-enquiry landing page sends (``defaults/forms.yaml``); signed
posts are signed with the ``standardwebhooks`` package as a website backend would.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, func, select
from standardwebhooks.webhooks import Webhook
from tests.api.conftest import Api
from tests.api.servers import servers

from leadgate.db import make_engine, store
from leadgate.db.channel_models import FORM_SUBMISSIONS
from leadgate.governance.consent import statements

FORM = "course-enquiry"
URL = f"/v1/forms/{FORM}/submissions"
SECRET = "whsec_" + base64.b64encode(b"course-enquiry-form-secret-2026!").decode()
ORIGIN = {"Origin": "http://127.0.0.1:8000"}

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


def test_unknown_form_is_404(api: Api) -> None:
    payload, headers = signed({"fields": ENQUIRY})
    assert (
        api.client.post("/v1/forms/no-such-form/submissions", content=payload, headers=headers).status_code
        == 404
    )


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
