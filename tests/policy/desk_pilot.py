"""The support-desk pilot the policy tests use: its users and tools (HEAD) and its policy (RULES)."""

from __future__ import annotations

HEAD = """\
pilot: {name: support-desk, owner: dana, workflow: answer support tickets}
users:
  - {name: alice, groups: [customers]}
  - {name: bob, groups: [agents]}
  - {name: carol, groups: [agents, finance]}
  - {name: mallory, groups: [visitors]}
tools:
  - name: lookup_order
    adapter: python:desk.tools:lookup_order
    effect: read
    risk: low
    roles: [agents, customers]
  - name: issue_refund
    adapter: http://127.0.0.1:9100/refunds
    effect: external
    risk: high
    replay: reconcilable
    roles: [agents, customers]
    args:
      type: object
      required: [order_id, amount]
      properties: {order_id: {type: string}, amount: {type: number}}
"""

RULES = """\
policy:
  rules:
    - {name: reads-are-fine, decision: allow, when: 'tool.effect == "read"'}
    - {name: small-refunds, decision: allow, when: 'tool.name == "issue_refund" && args.amount <= 200.0'}
    - name: big-refunds-need-finance
      decision: require_approval
      when: 'tool.name == "issue_refund" && args.amount > 200.0'
      approvers: [finance]
      expires: 4h
    - name: customers-never-refund
      decision: deny
      when: '"customers" in user.groups && tool.name == "issue_refund"'
  tests:
    - {user: bob, tool: issue_refund, args: {order_id: "123456", amount: 50}, expect: allow}
    - {user: bob, tool: issue_refund, args: {order_id: "123456", amount: 900}, expect: require_approval}
    - name: customers never refund
      user: alice
      tool: issue_refund
      args: {order_id: "1", amount: 5}
      expect: deny
    - {user: alice, tool: lookup_order, args: {order_id: "123456"}, expect: allow}
"""
