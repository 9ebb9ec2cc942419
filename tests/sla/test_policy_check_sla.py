"""``leadgate policy check`` reads the ``sla:`` section: a good one passes, a bad one is reported by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli_support import run, wide_console  # noqa: F401 (fixture)

POLICY = """\
policy_version: 1
name: acme
version: 5
tiers: {hot: 0.7, warm: 0.4, nurture: 0.1}
actions: {hot: route_to_sales, warm: route_to_sales, nurture: nurture, disqualified: discard}
sla:
  tiers:
    hot: {first_touch: 5m, escalate: true, reassign_after: 30m}
    warm: {first_touch: 4h}
  rules:
    - id: enterprise_hot
      tiers: [hot]
      segments: [enterprise]
      first_touch: 15 minutes
  max_reassignments: 2
"""


@pytest.mark.usefixtures("wide_console")
def test_policy_check_with_an_sla_section(tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text(POLICY, encoding="utf-8")
    assert f"{good}: ok (acme@5)" in run("policy", "check", str(good))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        POLICY.replace("first_touch: 4h", "first_touch: soon").replace(
            "tiers: [hot]\n", "tiers: [lukewarm]\n"
        ),
        encoding="utf-8",
    )
    out = run("policy", "check", str(bad), code=1)
    assert (
        f"{bad}:9:25: sla.tiers.warm.first_touch: expected a duration such as '5m', '90 minutes', '4h' or "
        "'1h30m', got 'soon'" in out
    )
    assert (
        f"{bad}:12:15: sla.rules.0.tiers.0: Input should be 'hot', 'warm', 'nurture' or 'disqualified'" in out
    )
