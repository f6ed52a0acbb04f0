"""Broken pilots: each problem is reported at its file:line:column and field, with what was expected."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pilotgate.errors import ConfigIssue

IssuesOf = Callable[[str], list[str]]
ConfigIssues = Callable[[str], list[ConfigIssue]]

HEAD = "pilot: {name: x, owner: o, workflow: w}\nusers: [{name: u, groups: [g]}]\n"


def test_wrong_type(issues_of: IssuesOf) -> None:
    text = HEAD + "routing:\n  retries: two\n"
    assert issues_of(text) == ['pilot.yaml:4:3: routing.retries: expected an integer; got "two"']


def test_string_expected_hints_at_quoting(issues_of: IssuesOf) -> None:
    text = "pilot:\n  name: x\n  owner: 42\n  workflow: w\n"
    assert issues_of(text) == [
        "pilot.yaml:3:3: pilot.owner: expected a string; got 42 (quote it to make it a string)"
    ]


def test_unknown_key_with_did_you_mean(issues_of: IssuesOf) -> None:
    text = (
        HEAD + "sources:\n  - name: orders\n    kind: csv\n    path: o.csv\n    key: id\n    acl_colum: g\n"
    )
    assert issues_of(text) == [
        'pilot.yaml:8:5: sources[0].acl_colum: unknown key (did you mean "acl_column"?)'
    ]


def test_unknown_key_of_another_kind(issues_of: IssuesOf) -> None:
    text = HEAD + "sources:\n  - {name: docs, kind: folder, path: d, key: id}\n"
    assert issues_of(text) == [
        'pilot.yaml:4:41: sources[0].key: unknown key ("key" applies only to kind: csv, jsonl, sql)'
    ]


def test_unknown_key_without_a_close_match_lists_the_keys(issues_of: IssuesOf) -> None:
    text = HEAD + "evals: {packs: [], zzz: 1}\n"
    assert issues_of(text) == [
        "pilot.yaml:3:20: evals.zzz: unknown key (expected one of: packs, judge, repeats)"
    ]


def test_unknown_top_level_section(issues_of: IssuesOf) -> None:
    assert issues_of(HEAD + "polcy: {}\n") == ['pilot.yaml:3:1: polcy: unknown key (did you mean "policy"?)']


def test_bad_enum(issues_of: IssuesOf) -> None:
    text = HEAD + (
        "tools:\n  - name: lookup\n    adapter: python:desk.tools:lookup\n    effect: read\n    risk: hgih\n"
    )
    assert issues_of(text) == [
        'pilot.yaml:7:5: tools[0].risk: expected one of low, medium, high; got "hgih" (did you mean "high"?)'
    ]


def test_bad_union_tag(issues_of: IssuesOf) -> None:
    text = HEAD + "sources:\n  - name: s\n    kind: xls\n    path: s.xls\n"
    assert issues_of(text) == [
        'pilot.yaml:5:5: sources[0].kind: expected one of folder, csv, jsonl, sql, plugin; got "xls"'
    ]


def test_missing_field_points_at_parent(issues_of: IssuesOf) -> None:
    text = "users: []\npilot:\n  name: x\n  workflow: w\n"
    assert issues_of(text) == [
        'pilot.yaml:2:1: pilot: missing required field "owner" '
        "(The one person who owns the pilot and can cut its scope.)"
    ]


def test_missing_section_points_at_top(issues_of: IssuesOf) -> None:
    assert issues_of("users: []\n") == [
        'pilot.yaml:1:1: missing required field "pilot" '
        "(Scope and value: name, owner, workflow, metric, kill condition, escalation.)"
    ]


def test_missing_field_of_one_kind(issues_of: IssuesOf) -> None:
    text = HEAD + "sources:\n  - name: s\n    kind: csv\n    path: s.csv\n"
    assert issues_of(text) == [
        'pilot.yaml:4:5: sources[0]: missing required field "key" '
        "(The field that identifies a record across versions and sources (same key, same record).)"
    ]


def test_missing_kind(issues_of: IssuesOf) -> None:
    text = HEAD + "sources:\n  - name: s\n    path: s.csv\n"
    assert issues_of(text) == [
        'pilot.yaml:4:5: sources[0]: missing required field "kind" '
        "(kind is one of folder, csv, jsonl, sql, plugin)"
    ]


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ("{name: s, kind: folder}", "path"),
        ("{name: s, kind: csv, path: p}", "key"),
        ("{name: s, kind: csv, key: k}", "path"),
        ("{name: s, kind: jsonl, path: p}", "key"),
        ("{name: s, kind: sql, query: q, key: k}", "url"),
        ("{name: s, kind: sql, url: 'sqlite:///x.db', key: k}", "query"),
    ],
)
def test_source_kinds_require_their_fields(config_issues: ConfigIssues, source: str, missing: str) -> None:
    found = config_issues(HEAD + f"sources:\n  - {source}\n")
    assert [(i.line, i.column, i.field, i.message) for i in found] == [
        (4, 5, "sources[0]", f'missing required field "{missing}"')
    ]


def test_duplicate_key(issues_of: IssuesOf) -> None:
    text = "pilot:\n  name: x\n  owner: o\n  workflow: w\n  owner: p\n"
    assert issues_of(text) == [
        'pilot.yaml:5:3: duplicate key "owner" (each key may appear once in a mapping)'
    ]


def test_duplicate_key_never_echoes_values(issues_of: IssuesOf) -> None:
    text = HEAD + "models:\n  - name: m\n    api_key: sk-live-1\n    api_key: sk-live-2\n"
    [printed] = issues_of(text)
    assert printed.startswith('pilot.yaml:6:5: duplicate key "api_key"')
    assert "sk-live" not in printed


def test_yaml_syntax_error(issues_of: IssuesOf) -> None:
    text = "pilot:\n  name: x\n  owner: [o, p\n  workflow: w\n"
    assert issues_of(text) == [
        "pilot.yaml:4:11: YAML syntax error: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence, which started at line 3, column 10)"
    ]


def test_yaml_tab_indent(issues_of: IssuesOf) -> None:
    assert issues_of("pilot:\n\tname: x\n") == [
        "pilot.yaml:2:1: YAML syntax error: found character '\\t' that cannot start any token"
    ]


def test_custom_tags_are_refused(issues_of: IssuesOf) -> None:
    model = "{name: m, provider: openai-compatible, base_url: 'http://h', model: m, api_key: !env K}"
    text = HEAD + f"models:\n  - {model}\n"
    assert issues_of(text) == [
        "pilot.yaml:4:76: models[0].api_key: YAML tags are not supported "
        "(write plain values; for a secret use a reference such as env:NAME)"
    ]


@pytest.mark.parametrize("value", ["5 days", "90 d", "4x", "-1", "0", "1.5h", "true"])
def test_bad_duration(config_issues: ConfigIssues, minimal: str, value: str) -> None:
    [issue] = config_issues(minimal.replace("read: [staff]", f"read: [staff]\n    freshness: {value}"))
    assert (issue.line, issue.column, issue.field) == (14, 5, "sources[0].freshness")
    assert issue.message.startswith("expected a duration")


def test_bad_duration_message(issues_of: IssuesOf, minimal: str) -> None:
    text = minimal.replace("read: [staff]", "read: [staff]\n    freshness: 5 days")
    assert issues_of(text) == [
        "pilot.yaml:14:5: sources[0].freshness: expected a duration like 90d, 4h, 30m, 20s "
        'or a whole number of seconds; got "5 days"'
    ]


MODEL = (
    HEAD
    + "models:\n  - name: m\n    provider: openai-compatible\n    base_url: http://h/v1\n    model: llm\n"
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("env:bad-name", "malformed env: reference; expected env:NAME (NAME: letters, digits and _)"),
        ("keyring:only-service", "malformed keyring: reference; expected keyring:SERVICE/NAME"),
        ("vault:secret/llm", "malformed vault: reference; expected vault:PATH#KEY"),
        ("'file:'", "malformed file: reference; expected file:PATH"),
    ],
)
def test_bad_secret_reference(issues_of: IssuesOf, value: str, message: str) -> None:
    assert issues_of(MODEL + f"    api_key: {value}\n") == [f"pilot.yaml:8:5: models[0].api_key: {message}"]


@pytest.mark.parametrize("secret", ["sk-live-abcdef0123456789", "hunter2", "Bearer abc:def", "12345"])
def test_literal_secret_in_api_key_is_refused_and_not_echoed(issues_of: IssuesOf, secret: str) -> None:
    [printed] = issues_of(MODEL + f"    api_key: {secret}\n")
    assert printed == (
        "pilot.yaml:8:5: models[0].api_key: expected a secret reference (env:NAME, file:PATH, "
        "keyring:SERVICE/NAME or vault:PATH#KEY), not a secret value (keep secrets out of pilot.yaml: "
        "put the value in an environment variable and write env:NAME)"
    ) or printed.endswith("got a number")
    assert secret not in printed


def test_database_url_with_password_is_refused(issues_of: IssuesOf) -> None:
    text = HEAD + "sources:\n  - {name: s, kind: sql, url: 'postgresql://me:pw1@db/x', query: q, key: id}\n"
    [printed] = issues_of(text)
    assert printed == (
        "pilot.yaml:4:26: sources[0].url: the database URL carries a password "
        "(put the whole URL in a secret and write url: env:NAME)"
    )


def test_routing_names_undeclared_model(issues_of: IssuesOf) -> None:
    text = MODEL + "routing: {primary: mm, fallbacks: [reference]}\n"
    assert issues_of(text) == [
        'pilot.yaml:8:11: routing.primary: no model named "mm" (did you mean "m"?)',
        'pilot.yaml:8:36: routing.fallbacks[0]: no model named "reference" (declared models: m)',
    ]


def test_judge_names_undeclared_model(issues_of: IssuesOf) -> None:
    assert issues_of(MODEL + "evals: {judge: gpt}\n") == [
        'pilot.yaml:8:9: evals.judge: no model named "gpt" (declared models: m)'
    ]


def test_duplicate_tool_names(issues_of: IssuesOf) -> None:
    text = HEAD + (
        "tools:\n"
        "  - {name: refund, adapter: 'python:m:f', effect: write, risk: high, roles: [g]}\n"
        "  - {name: lookup, adapter: 'python:m:g', effect: read, risk: low, roles: [g]}\n"
        "  - {name: refund, adapter: 'python:m:h', effect: write, risk: high, roles: [g]}\n"
    )
    assert issues_of(text) == [
        'pilot.yaml:6:6: tools[2].name: duplicate name "refund"; tools[0] already uses it '
        "(names must be unique within a section)"
    ]


@pytest.mark.parametrize("section", ["users", "sources", "models", "alerts"])
def test_duplicate_names_in_every_list(config_issues: ConfigIssues, section: str) -> None:
    items = {
        "users": "{name: u, groups: [g]}",
        "sources": "{name: s, kind: folder, path: p, read: [g]}",
        "models": "{name: r, provider: reference}",
        "alerts": "{name: a, when: x}",
    }[section]
    head = "pilot: {name: x, owner: o, workflow: w}\n"
    if section != "users":
        head += "users: [{name: u, groups: [g]}]\n"
    found = config_issues(head + f"{section}:\n  - {items}\n  - {items}\n")
    assert [(i.field, i.message.split(";")[0]) for i in found] == [
        (f"{section}[1].name", f'duplicate name "{items.split(",")[0].split(": ")[1]}"')
    ]


def test_policy_tests_name_declared_users_and_tools(issues_of: IssuesOf) -> None:
    text = HEAD + (
        "tools:\n"
        "  - {name: refund, adapter: 'python:m:f', effect: write, risk: high, roles: [g]}\n"
        "policy:\n"
        "  rules:\n"
        "    - {name: ok, decision: allow, when: 'true'}\n"
        "  tests:\n"
        "    - {user: bob, tool: refnd, expect: allow}\n"
    )
    assert issues_of(text) == [
        'pilot.yaml:9:8: policy.tests[0].user: no user named "bob" (declared users: u)',
        'pilot.yaml:9:19: policy.tests[0].tool: no tool named "refnd" (did you mean "refund"?)',
    ]


def test_groups_must_be_held_by_some_user(issues_of: IssuesOf) -> None:
    text = (
        "pilot: {name: x, owner: o, workflow: w, escalation: {to: 'group:agnets'}}\n"
        "users: [{name: u, groups: [agents]}]\n"
        "sources: [{name: s, kind: folder, path: p, read: [agents, finance]}]\n"
        "tools: [{name: t, adapter: 'python:m:f', effect: read, risk: low, roles: [agent]}]\n"
        "flags: {t: {groups: [agents, nobody]}}\n"
    )
    assert issues_of(text) == [
        'pilot.yaml:1:54: pilot.escalation.to: no user has the group "agnets", so escalations would reach '
        'nobody (did you mean "agents"?)',
        'pilot.yaml:3:59: sources[0].read[1]: no user has the group "finance" (declared groups: agents)',
        'pilot.yaml:4:75: tools[0].roles[0]: no user has the group "agent" (did you mean "agents"?)',
        'pilot.yaml:5:30: flags.t.groups[1]: no user has the group "nobody" (declared groups: agents)',
    ]


def test_approval_rules_need_approvers(issues_of: IssuesOf) -> None:
    text = HEAD + (
        "policy:\n"
        "  rules:\n"
        "    - {name: big, decision: require_approval, when: 'true'}\n"
        "    - {name: small, decision: allow, when: 'true', approvers: [g]}\n"
    )
    assert issues_of(text) == [
        "pilot.yaml:5:7: policy.rules[0]: a require_approval rule needs approvers "
        "(add approvers: [GROUP] naming who may approve)",
        "pilot.yaml:6:52: policy.rules[1].approvers: approvers apply only to decision: require_approval, "
        "not allow",
    ]


def test_many_errors_all_reported_in_file_order(issues_of: IssuesOf) -> None:
    text = (
        "receipts:\n"
        "  checkpoint_every: 0\n"
        "pilot:\n"
        "  name: Refund Desk\n"
        "  workflow: w\n"
        "users:\n"
        "  - {name: u, groups: [g], role: admin}\n"
        "tools:\n"
        "  - name: t\n"
        "    adapter: python:m:f\n"
        "    effect: reed\n"
        "    risk: low\n"
        "    cost_per_call: free\n"
        "budgets:\n"
        "  per_task: 0.05\n"
        "  per_day: [1]\n"
    )
    assert issues_of(text) == [
        "pilot.yaml:2:3: receipts.checkpoint_every: expected a number >= 1; got 0",
        'pilot.yaml:3:1: pilot: missing required field "owner" '
        "(The one person who owns the pilot and can cut its scope.)",
        "pilot.yaml:4:3: pilot.name: expected a slug: lowercase letters, digits and '-', starting with a "
        'letter or digit, at most 63 long; got "Refund Desk"',
        "pilot.yaml:7:28: users[0].role: unknown key (expected one of: name, groups)",
        'pilot.yaml:11:5: tools[0].effect: expected one of read, write, external; got "reed" '
        '(did you mean "read"?)',
        'pilot.yaml:13:5: tools[0].cost_per_call: expected an amount like "0.05" or 12; got "free"',
        'pilot.yaml:16:3: budgets.per_day: expected an amount like "0.05" or 12; got a list',
    ]


def test_filename_labels_issues() -> None:
    from pilotgate.errors import ConfigError
    from pilotgate.spec import load_pilot_text

    with pytest.raises(ConfigError) as caught:
        load_pilot_text("users: []\n", filename="examples/desk/pilot.yaml")
    assert str(caught.value).startswith(
        "1 problem in examples/desk/pilot.yaml:\n  examples/desk/pilot.yaml:1:1:"
    )
    assert caught.value.__cause__ is None  # the pydantic error (which may hold inputs) is not chained
    assert caught.value.__context__ is None or caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("witness: ftp://host/x", 'expected a file path or an http:// or https:// URL; got "ftp://host/x"'),
        ("checkpoint_at_task_end: yes", 'expected true or false; got "yes"'),
        ("signing_key: ''", 'expected a non-empty string; got ""'),
    ],
)
def test_receipts_section_errors(issues_of: IssuesOf, line: str, message: str) -> None:
    assert issues_of(HEAD + f"receipts:\n  {line}\n") == [
        f"pilot.yaml:4:3: receipts.{line.split(':')[0]}: {message}"
    ]
