"""Entry point of a separate consumer: `huey_consumer server.jobs.worker.huey -k greenlet -w 16`.

Importing this module registers every task of every domain.
"""

from gevent import monkey

monkey.patch_all()

import server.jobs.tasks  # noqa: E402,F401 - registers the tasks
from server.jobs import huey  # noqa: E402

__all__ = ["huey"]
