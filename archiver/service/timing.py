"""Schedule arithmetic over an injected clock: when an account is due; catch-up after downtime."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from archiver.policy.model import Schedule


def trigger_for(
    schedule: Schedule, *, start: datetime | None = None, jitter: int | None = None
) -> BaseTrigger:
    """The APScheduler 3.x trigger of a policy schedule (cron in its time zone, or interval)."""
    tz = ZoneInfo(schedule.timezone)
    if schedule.kind == "interval":
        return IntervalTrigger(
            seconds=schedule.interval().total_seconds(),
            start_date=start,
            timezone=tz,
            jitter=jitter,
        )
    cron = CronTrigger.from_crontab(schedule.text, timezone=tz)
    cron.jitter = jitter  # from_crontab takes no jitter; the trigger honours the attribute
    return cron


def next_fire(schedule: Schedule, after: datetime) -> datetime:
    """The first scheduled time strictly after ``after`` (interval schedules count from it)."""
    if schedule.kind == "interval":
        return after + schedule.interval()
    trigger = trigger_for(schedule)
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    assert fire is not None
    return fire  # type: ignore[no-any-return]


def missed_run(schedule: Schedule, last_run: datetime | None, now: datetime) -> bool:
    """True when a scheduled time passed since ``last_run`` (or the account never ran): the
    daemon then captures once at start — once, however many runs were missed."""
    if last_run is None:
        return True
    return next_fire(schedule, last_run) <= now


def slot_for(schedule: Schedule, now: datetime) -> datetime:
    """The scheduled time a run starting at ``now`` belongs to: the same for any daemon that fires
    it (a standby taking over, a jittered start), so the run's task is idempotent.

    Intervals count in whole intervals from the Unix epoch; cron takes its latest time at or
    before ``now``.
    """
    if schedule.kind == "interval":
        step = schedule.interval().total_seconds()
        return datetime.fromtimestamp((now.timestamp() // step) * step, tz=now.tzinfo)
    trigger = trigger_for(schedule)
    for window in (
        timedelta(minutes=2),
        timedelta(hours=2),
        timedelta(days=2),
        timedelta(days=367),
    ):
        # cron has no "previous": walk forward through the smallest window holding a fire
        latest, probe = None, now - window
        while (fire := trigger.get_next_fire_time(None, probe)) is not None and fire <= now:
            latest, probe = fire, fire + timedelta(seconds=1)
        if latest is not None:
            return latest.astimezone(now.tzinfo)  # type: ignore[no-any-return]
    return now  # no fire in a year (e.g. 30 February): the run is its own slot
