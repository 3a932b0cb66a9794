"""Policy loads in the audit chain: the set of rules in force is part of the record."""

from __future__ import annotations

from archiver.governance.audit import record_event
from archiver.runtime import Runtime


def record_policy_in_force(rt: Runtime) -> bool:
    """Append a ``policy.loaded`` event when the policy hash differs from the last one recorded
    (so the chain says which rules governed every later act). Returns True when one was added."""
    policies = rt.policies or rt.reload_policies()
    last = rt.index.audit_chain.last_subject("policy.loaded")
    if last == policies.policy_hash:
        return False
    record_event(
        rt,
        "policy.loaded",
        policies.policy_hash,
        {
            "files": list(policies.files),
            "series": sorted(policies.series),
            "accounts": sorted(policies.accounts),
        },
    )
    return True
