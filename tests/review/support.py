"""Helpers of the review tests (no tests here): a qualifier, X Education-style leads, assignments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from leadgate.contracts.action import Assignment
from leadgate.contracts.lead import Lead
from leadgate.db.engine import write_lock
from leadgate.defaults import default_path
from leadgate.features import load_feature_set
from leadgate.pipeline import Qualifier
from leadgate.policy import load_policy_text
from leadgate.routing import current_assignment, store_assignment
from leadgate.scoring import load_fit_rules

# The shipped X Education policy's tiers and actions, but: fallback scores are not sent to review (there is
# no model in these tests, every lead is scored by the rule fallback), and enquiries that came through the
# "Lead Add Form" (a sales colleague typed them in) go to a person, as a team might decide.
POLICY = """
policy_version: 1
name: review-test
version: 3
tiers: {hot: 0.70, warm: 0.40, nurture: 0.10}
actions: {hot: route_to_sales, warm: route_to_sales, nurture: nurture, disqualified: discard}
overrides:
  - id: typed_in_by_sales
    reason: typed in by a sales colleague, a person checks it first
    tiers: [hot, warm, nurture, disqualified]
    when: {field: attributes.lead_origin, op: eq, value: Lead Add Form}
    action: human_review
review:
  min_confidence: 0.0
  on_fallback: false
"""


def qualifier(engine: Engine, policy: str = POLICY) -> Qualifier:
    """The test policy with the shipped X Education feature set and fit rules (rule fallback, no model)."""
    return Qualifier.load(
        engine,
        load_policy_text(policy),
        model_ref="propensity@champion",
        feature_set=load_feature_set(default_path("features.yaml")),
        fit_rules=load_fit_rules(),
    )


def lead(lead_id: str, origin: str = "Landing Page Submission", **person: Any) -> Lead:
    """An X Education enquiry as the web form sends it (attributes as in examples/xeducation/Leads.csv)."""
    attributes = {
        "lead_origin": origin,
        "lead_source": "google",
        "do_not_email": False,
        "do_not_call": False,
        "total_visits": 5,
        "total_time_on_site": 1187,
        "page_views_per_visit": 2.5,
        "country": "India",
        "occupation": "Working Professional",
        "specialization": "Finance Management",
    }
    return Lead(lead_id=lead_id, source="web_form", attributes=attributes, **person)


def assign(
    engine: Engine, lead_id: str, decision_id: str, rep_id: str, at: datetime, due: datetime | None
) -> str:
    """Store a round-robin assignment of the lead to ``rep_id`` (through ``store_assignment``)."""
    with write_lock(engine), engine.begin() as conn:
        current = current_assignment(conn, lead_id)
        assignment_id = str(uuid.uuid4())
        store_assignment(
            conn,
            Assignment(
                assignment_id=assignment_id,
                lead_id=lead_id,
                decision_id=decision_id,
                rep_id=rep_id,
                rule="round_robin",
                reason="round robin among 3 available reps, weights 2:1:1",
                policy_version="review-test@3",
                assigned_at=at,
                sla_due_at=due,
            ),
            supersedes=current["assignment_id"] if current else None,
        )
    return assignment_id
