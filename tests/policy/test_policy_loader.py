"""Policy files: validation, and errors that point at the right line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadgate.policy import (
    Policy,
    PolicyError,
    PolicyIssue,
    check_policy_file,
    check_policy_text,
    load_policy,
    load_policy_text,
)

# Line numbers in the comments are what the tests below assert against.
BASE = """\
policy_version: 1
name: test
version: 1
tiers:
  hot: 0.7
  warm: 0.4
  nurture: 0.1
disqualification:
  - id: do_not_contact
    reason: asked not to be contacted
    when:
      all:
        - {field: attributes.do_not_email, op: eq, value: true}
        - {field: attributes.do_not_call, op: eq, value: true}
actions:
  hot: route_to_sales
  warm: route_to_sales
  nurture: nurture
  disqualified: discard
review:
  min_confidence: 0.6
  on_fallback: true
"""
# 1 policy_version / 4 tiers / 5 hot / 6 warm / 7 nurture / 8 disqualification / 9 - id / 11 when
# 13, 14 the two field tests / 15 actions / 16 hot / 17 warm / 18 nurture / 19 disqualified / 20 review


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def only_issue(text: str) -> PolicyIssue:
    issues = check_policy_text(text)
    assert len(issues) == 1, issues
    return issues[0]


def where(issue: PolicyIssue) -> tuple[int, int, str]:
    return issue.line, issue.column, issue.path


def test_base_policy_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BASE)
    assert check_policy_file(path) == []
    policy = load_policy(path)
    assert isinstance(policy, Policy)
    assert policy.ref == "test@1"
    assert policy.tiers.hot == 0.7
    assert policy.disqualification[0].id == "do_not_contact"
    assert policy.attribute_names() == {"do_not_email", "do_not_call"}


def test_string_version_and_ref() -> None:
    policy = load_policy_text(edit("\nversion: 1", "\nversion: 2024-06-01.b"))
    assert policy.ref == "test@2024-06-01.b"
    assert load_policy_text(edit("\nversion: 1", '\nversion: "7"')).ref == "test@7"


def test_content_hash_is_stable_and_changes_with_content() -> None:
    a, b = load_policy_text(BASE), load_policy_text(BASE)
    assert a == b
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != load_policy_text(edit("hot: 0.7", "hot: 0.75")).content_hash()


def test_yaml_syntax_error_has_line_and_column() -> None:
    issue = only_issue(edit("  warm: 0.4\n", "  warm: [0.4\n"))
    assert issue.line == 7
    assert issue.column == 10
    assert issue.message.startswith("YAML syntax error")


def test_bad_indentation_is_a_syntax_error_on_its_line() -> None:
    issue = only_issue(edit("  nurture: 0.1\n", "   nurture: 0.1\n"))
    assert (issue.line, issue.path) == (7, "<root>")
    assert "YAML syntax error" in issue.message


def test_duplicate_top_level_key() -> None:
    issue = only_issue(BASE + "name: other\n")
    assert where(issue) == (23, 1, "name")
    assert issue.message == "duplicate key 'name' (first given on line 2)"


def test_duplicate_nested_key_inside_flow_mapping() -> None:
    text = edit(
        "        - {field: attributes.do_not_call, op: eq, value: true}",
        "        - {field: attributes.do_not_call, op: eq, op: ne, value: true}",
    )
    issue = only_issue(text)
    assert where(issue) == (14, 51, "disqualification.0.when.all.1.op")
    assert "duplicate key 'op'" in issue.message


def test_duplicate_key_in_tiers_is_reported_even_when_the_rest_validates() -> None:
    issue = only_issue(edit("  warm: 0.4\n", "  warm: 0.4\n  warm: 0.5\n"))
    assert where(issue) == (7, 3, "tiers.warm")
    with pytest.raises(PolicyError):
        load_policy_text(edit("  warm: 0.4\n", "  warm: 0.4\n  warm: 0.5\n"))


def test_unknown_top_level_key_points_at_the_key() -> None:
    issue = only_issue(edit("review:\n", "reviews: {}\nreview:\n"))
    assert where(issue) == (20, 1, "reviews")
    assert issue.message == "unknown key 'reviews'"


def test_unknown_nested_key() -> None:
    issue = only_issue(edit("  on_fallback: true\n", "  on_fallback: true\n  on_fallbak: false\n"))
    assert where(issue) == (23, 3, "review.on_fallbak")


def test_unknown_key_in_a_condition() -> None:
    text = edit(
        "        - {field: attributes.do_not_call, op: eq, value: true}",
        "        - {field: attributes.do_not_call, op: eq, value: true, vale: 1}",
    )
    issue = only_issue(text)
    assert where(issue) == (14, 64, "disqualification.0.when.all.1.vale")
    assert issue.message == "unknown key 'vale'"


def test_wrong_type_points_at_the_value() -> None:
    issue = only_issue(edit("  hot: 0.7", "  hot: high"))
    assert where(issue) == (5, 8, "tiers.hot")
    assert "number" in issue.message


def test_numbers_as_strings_are_refused() -> None:
    issue = only_issue(edit("  hot: 0.7", '  hot: "0.7"'))
    assert where(issue) == (5, 8, "tiers.hot")


def test_wrong_type_for_a_whole_section() -> None:
    issue = only_issue(edit("review:\n  min_confidence: 0.6\n  on_fallback: true\n", "review: 5\n"))
    assert where(issue) == (20, 9, "review")
    assert issue.message == "expected a mapping, got int"


def test_missing_key_points_at_the_parent_mapping() -> None:
    issue = only_issue(edit("  warm: 0.4\n", ""))
    assert where(issue) == (5, 3, "tiers.warm")
    assert issue.message == "missing required key 'warm'"


def test_missing_top_level_section_points_at_the_document() -> None:
    text = edit("actions:\n  hot: route_to_sales\n  warm: route_to_sales\n  nurture: nurture\n", "")
    text = edit("  disqualified: discard\n", "", text)
    issue = only_issue(text)
    assert where(issue) == (1, 1, "actions")


def test_threshold_outside_zero_one() -> None:
    issue = only_issue(edit("  hot: 0.7", "  hot: 1.5"))
    assert where(issue) == (5, 8, "tiers.hot")
    assert "less than or equal to 1" in issue.message


def test_warm_not_below_hot_is_reported_on_warm() -> None:
    issue = only_issue(edit("  warm: 0.4", "  warm: 0.8"))
    assert where(issue) == (6, 9, "tiers.warm")
    assert issue.message == "warm threshold 0.8 must be below the hot threshold 0.7"


def test_equal_thresholds_are_not_strictly_ordered() -> None:
    issue = only_issue(edit("  nurture: 0.1", "  nurture: 0.4"))
    assert where(issue) == (7, 12, "tiers.nurture")
    assert issue.message == "nurture threshold 0.4 must be below the warm threshold 0.4"


def test_both_order_errors_are_reported() -> None:
    issues = check_policy_text(edit("  hot: 0.7", "  hot: 0.05"))
    assert [where(i) for i in issues] == [(6, 9, "tiers.warm")]
    issues = check_policy_text(edit("  nurture: 0.1", "  nurture: 0.9", edit("  hot: 0.7", "  hot: 0.3")))
    assert [where(i) for i in issues] == [(6, 9, "tiers.warm"), (7, 12, "tiers.nurture")]


def test_unknown_action() -> None:
    issue = only_issue(edit("  warm: route_to_sales", "  warm: call_them"))
    assert where(issue) == (17, 9, "actions.warm")
    assert "'route_to_sales', 'nurture', 'human_review' or 'discard'" in issue.message


def test_unknown_op_nested_in_all() -> None:
    text = edit("attributes.do_not_call, op: eq", "attributes.do_not_call, op: equals")
    issue = only_issue(text)
    assert where(issue) == (14, 47, "disqualification.0.when.all.1.op")
    assert "'eq'" in issue.message and "'matches'" in issue.message


def test_condition_that_is_not_a_mapping() -> None:
    text = edit("        - {field: attributes.do_not_call, op: eq, value: true}", "        - do_not_call")
    issue = only_issue(text)
    assert where(issue) == (14, 11, "disqualification.0.when.all.1")
    assert issue.message.startswith("a condition is a mapping")


def test_duplicate_rule_ids_point_at_the_second_id() -> None:
    rule = (
        "  - id: do_not_contact\n"
        "    reason: again\n"
        "    when: {field: attributes.country, op: eq, value: Mars}\n"
    )
    issue = only_issue(edit("actions:\n", rule + "actions:\n"))
    assert where(issue) == (15, 9, "disqualification.1.id")
    assert issue.message == "duplicate rule id 'do_not_contact'"


def test_rule_ids_are_unique_across_disqualification_and_overrides() -> None:
    text = BASE + (
        "overrides:\n"
        "  - id: do_not_contact\n"
        "    reason: r\n"
        "    tiers: [nurture]\n"
        "    when: {field: attributes.x, op: present}\n"
        "    action: discard\n"
    )
    issue = only_issue(text)
    assert where(issue) == (24, 9, "overrides.0.id")


def test_override_with_unknown_tier_and_action() -> None:
    text = BASE + (
        "overrides:\n"
        "  - id: o\n"
        "    reason: r\n"
        "    tiers: [nurture, lukewarm]\n"
        "    when: {field: attributes.x, op: present}\n"
        "    action: email\n"
    )
    issues = check_policy_text(text)
    assert [where(i) for i in issues] == [(26, 22, "overrides.0.tiers.1"), (28, 13, "overrides.0.action")]


def test_unknown_field_path() -> None:
    issue = only_issue(edit("attributes.do_not_call", "do_not_call"))
    assert where(issue) == (14, 19, "disqualification.0.when.all.1.field")
    assert issue.message.startswith("unknown field 'do_not_call'")


def test_post_decision_fields_are_refused() -> None:
    issue = only_issue(edit("attributes.do_not_call", "post_decision.tags"))
    assert where(issue) == (14, 19, "disqualification.0.when.all.1.field")
    assert "recorded after sales contact" in issue.message


def test_unknown_score_field() -> None:
    issue = only_issue(edit("attributes.do_not_call, op: eq, value: true", "score.prob, op: gte, value: 0.5"))
    assert where(issue) == (14, 19, "disqualification.0.when.all.1.field")


def test_op_without_its_value_points_at_the_condition() -> None:
    issue = only_issue(edit("attributes.do_not_call, op: eq, value: true", "attributes.do_not_call, op: gte"))
    assert where(issue) == (14, 11, "disqualification.0.when.all.1")
    assert issue.message == "op 'gte' needs a 'value'"


def test_value_given_to_missing_op() -> None:
    issue = only_issue(edit("attributes.do_not_call, op: eq", "attributes.do_not_call, op: missing"))
    assert where(issue) == (14, 63, "disqualification.0.when.all.1.value")
    assert issue.message == "op 'missing' takes no value"


def test_comparison_needs_a_number() -> None:
    issue = only_issue(
        edit("attributes.do_not_call, op: eq, value: true", "attributes.visits, op: gt, value: '3'")
    )
    assert where(issue) == (14, 53, "disqualification.0.when.all.1.value")
    assert "finite number" in issue.message


def test_invalid_regular_expression() -> None:
    issue = only_issue(edit("op: eq, value: true}\nactions", "op: matches, value: '(unclosed'}\nactions"))
    assert where(issue) == (14, 63, "disqualification.0.when.all.1.value")
    assert issue.message.startswith("invalid regular expression '(unclosed'")


def test_in_needs_a_non_empty_list_of_scalars() -> None:
    issue = only_issue(edit("op: eq, value: true}\nactions", "op: in, value: []}\nactions"))
    assert where(issue) == (14, 58, "disqualification.0.when.all.1.value")
    text = edit("op: eq, value: true}\nactions", "op: in, value: [a, [b]]}\nactions")
    issue = only_issue(text)
    assert where(issue) == (14, 62, "disqualification.0.when.all.1.value.1")


def test_empty_all_is_refused() -> None:
    text = edit(
        "      all:\n"
        "        - {field: attributes.do_not_email, op: eq, value: true}\n"
        "        - {field: attributes.do_not_call, op: eq, value: true}\n",
        "      all: []\n",
    )
    issue = only_issue(text)
    assert where(issue) == (12, 12, "disqualification.0.when.all")


def test_score_field_checks() -> None:
    bad_op = edit("attributes.do_not_call, op: eq, value: true", "score.probability, op: matches, value: x")
    assert where(only_issue(bad_op)) == (14, 42, "disqualification.0.when.all.1.op")
    bad_scorer = edit("attributes.do_not_call, op: eq, value: true", "score.scorer, op: eq, value: rules")
    assert where(only_issue(bad_scorer)) == (14, 48, "disqualification.0.when.all.1.value")


def test_unsupported_policy_version() -> None:
    issue = only_issue(edit("policy_version: 1", "policy_version: 2"))
    assert where(issue) == (1, 17, "policy_version")
    assert "unsupported policy_version 2" in issue.message


@pytest.mark.parametrize("value", ["1.5", "true", "'has space'", "-1"])
def test_bad_policy_versions(value: str) -> None:
    issue = only_issue(edit("\nversion: 1", f"\nversion: {value}"))
    assert where(issue) == (3, 10, "version")


def test_high_value_review_rule_is_validated() -> None:
    text = edit(
        "  on_fallback: true\n",
        (
            "  on_fallback: true\n  high_value:\n    tiers: [hot]\n    reason: big account\n"
            "    when: {field: score.fit_score, op: gte}\n"
        ),
    )
    issue = only_issue(text)
    assert where(issue) == (26, 11, "review.high_value.when")
    assert issue.message == "op 'gte' needs a 'value'"


def test_several_issues_are_all_reported_in_line_order() -> None:
    text = edit("  hot: 0.7", "  hot: 0.3", edit("  disqualified: discard", "  disqualified: drop"))
    text = edit("name: test", "name: test\ncolour: blue", text)
    issues = check_policy_text(text)
    assert [(i.line, i.path) for i in issues] == [
        (3, "colour"),
        (7, "tiers.warm"),
        (20, "actions.disqualified"),
    ]


def test_empty_file_and_non_mapping_documents() -> None:
    assert where(only_issue("")) == (1, 1, "<root>")
    assert only_issue("# only a comment\n").message == "the policy file is empty"
    issue = only_issue("\n\n- a\n- b\n")
    assert where(issue) == (3, 1, "<root>")
    assert issue.message == "a policy file must be a YAML mapping"


def test_several_documents_are_refused() -> None:
    issue = only_issue(BASE + "---\nname: second\n")
    assert issue.line == 23
    assert "YAML syntax error" in issue.message


def test_python_tags_are_refused_not_executed() -> None:
    issue = only_issue(edit("name: test", "name: !!python/object/apply:os.system ['echo owned']"))
    assert (issue.line, issue.column) == (2, 7)
    assert "YAML syntax error" in issue.message


def test_policy_error_lists_file_line_column_path_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(edit("  warm: route_to_sales", "  warm: call_them", edit("  hot: 0.7", "  hot: 0.2")))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0] == f"{path}:6:9: tiers.warm: warm threshold 0.4 must be below the hot threshold 0.2"
    assert lines[1].startswith(f"{path}:17:9: actions.warm: Input should be ")
    assert [i.line for i in info.value.issues] == [6, 17]
    assert info.value.source == str(path)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_policy(tmp_path / "nope.yaml")
    with pytest.raises(FileNotFoundError):
        check_policy_file(tmp_path / "nope.yaml")


def test_errors_inside_not_and_any_are_located() -> None:
    text = edit(
        "      all:\n",
        "      any:\n        - {not: {field: nickname, op: present}}\n",
        edit("attributes.do_not_call, op: eq, value: true", "attributes.do_not_call, op: lt, value: x"),
    )
    issues = check_policy_text(text)
    assert [where(i) for i in issues] == [
        (13, 25, "disqualification.0.when.any.0.not.field"),
        (15, 58, "disqualification.0.when.any.2.value"),
    ]


def test_high_value_without_reason_points_at_its_mapping() -> None:
    text = edit(
        "  on_fallback: true\n",
        "  on_fallback: true\n  high_value:\n    when: {field: score.fit_score, op: gte, value: 80}\n",
    )
    issue = only_issue(text)
    assert where(issue) == (24, 5, "review.high_value.reason")
    assert issue.message == "missing required key 'reason'"
