"""gunicorn entry point: `gunicorn -k gevent ... 'server.wsgi:create_app()'`."""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket, ssl or threading

import gc  # noqa: E402

from flask import Flask  # noqa: E402

from server.app import create_app as _create_app  # noqa: E402


def create_app() -> Flask:
    """The app for gunicorn's worker, with the background-job consumer running beside it."""
    app = _create_app()
    settings = app.extensions["settings"]
    if settings.run_embedded_consumer:
        import server.jobs.tasks  # noqa: F401 - registers every task
        from server.jobs import start_embedded_consumer

        start_embedded_consumer(settings.jobs_workers)
    # Everything loaded so far lives as long as the worker: keep it out of the garbage collector's
    # full passes, which otherwise stall every live call's audio for hundreds of milliseconds.
    gc.freeze()
    return app
