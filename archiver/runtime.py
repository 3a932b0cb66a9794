"""The dependencies one process works with, built once from the settings and passed down."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archiver.capture.http import HttpClient, HttpLimits
from archiver.capture.ratelimit import HostGate, LocalHostGate, RedisHostGate
from archiver.clock import Clock, SystemClock
from archiver.config import Settings
from archiver.index.api import Index
from archiver.policy.loader import load_policies
from archiver.policy.model import PolicySet
from archiver.storage import open_store
from archiver.storage.base import Store


@dataclass
class Runtime:
    """Settings, policies, index, store and clock: everything a capture or a command needs."""

    settings: Settings
    index: Index
    store: Store
    clock: Clock = field(default_factory=SystemClock)
    policies: PolicySet | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    host_gate: HostGate | None = None
    """Per-host rate-limit pauses shared by every capture of this process (or, with Redis, of
    every worker); built from the settings by :meth:`build`."""
    on_retry: Callable[[str, str], None] | None = None
    """Called with (host, reason) on each HTTP retry: the daemon counts them in its metrics."""

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        create: bool = False,
        clock: Clock | None = None,
        variables: Mapping[str, str] | None = None,
        load: bool = True,
    ) -> Runtime:
        """Open index and store (``create``: migrate the schema and make the bucket)."""
        index = Index.open(
            settings.effective_database_url,
            create=create,
            search_engine=settings.search_engine,
            search_dir=settings.search_dir,
        )
        store = open_store(settings.effective_storage_url, lock_mode=settings.object_lock_mode)
        if create:
            store.ensure_ready()
        rt = cls(
            settings=settings,
            index=index,
            store=store,
            clock=clock or SystemClock(),
            variables=dict(os.environ if variables is None else variables),
        )
        rt.host_gate = (
            RedisHostGate(settings.redis_url) if settings.redis_url else LocalHostGate(rt.clock)
        )
        if load:
            rt.reload_policies()
        return rt

    def reload_policies(self) -> PolicySet:
        """Load the policies folder; on error the previous set stays (PolicyError raised)."""
        self.policies = load_policies(self.settings.policies, self.variables)
        return self.policies

    def http_client(self, **kwargs: Any) -> HttpClient:
        s = self.settings
        limits = HttpLimits(
            connect_timeout=s.http_connect_timeout,
            read_timeout=s.http_read_timeout,
            max_response_bytes=s.http_max_response_bytes,
            max_redirects=s.http_max_redirects,
            max_retry_after=s.http_max_retry_after,
            max_retries=s.http_max_retries,
            backoff_base=s.http_backoff_base,
            response_deadline=s.http_response_deadline,
            user_agent=s.user_agent,
        )
        return HttpClient(
            limits=limits,
            allow_private=s.allow_private_networks,
            clock=self.clock,
            gate=self.host_gate,
            on_retry=self.on_retry,
            **kwargs,
        )
