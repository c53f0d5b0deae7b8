"""Background jobs of reminders: one scheduled at each due_at, a sweep every minute and at start-up.

The scheduled job makes a reminder fire on time; the sweeps make it fire at all when the job was
lost (a reminder due while the server was down, a job store that was wiped, a crash mid-job).
"""

from __future__ import annotations

import logging
from datetime import datetime

from huey import crontab

from server.jobs import job, on_consumer_start, periodic
from server.reminders import firing

log = logging.getLogger(__name__)


@job(retries=3, retry_delay=2)
def fire_reminder(reminder_id: int) -> int:
    return firing.fire_due(reminder_id=reminder_id)


@on_consumer_start
@periodic(crontab(minute="*"))
def sweep_due_reminders() -> int:
    fired = firing.fire_due()
    if fired:
        log.info("reminder sweep fired %s reminder(s)", fired)
    return fired


def schedule_firing(reminder_id: int, due_at: datetime) -> None:
    """Enqueue the job for due_at (at once if due_at has passed). Call after the commit."""
    fire_reminder.schedule(args=(reminder_id,), eta=due_at)
