"""Approvals: requests persisted in the store, decided by declared approvers, bound to one exact call::

queue = ApprovalQueue(store, log)
approval = queue.request(task=..., tool=..., args=..., rule=d.rule, approvers=d.approvers,
                         expires=d.expires, requested_by=user)        # the task parks
queue.find()                                                         # the pending ones
queue.decide(approval.id, approver="carol", approver_groups=["finance"], approve=True)
queue.consume(approval.id, tool=..., args=..., task=...)             # once, for exactly that call
queue.expire_due()                                                   # their tasks escalate
"""

from pilotgate.approvals.model import STATES, Approval, ApprovalState
from pilotgate.approvals.queue import ApprovalQueue, DecidedHook, bound_hash

__all__ = ["STATES", "Approval", "ApprovalQueue", "ApprovalState", "DecidedHook", "bound_hash"]
