"""gunicorn entry point: `gunicorn -k gevent ... 'server.wsgi:create_app()'`."""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket, ssl or threading

from server.app import create_app  # noqa: E402

__all__ = ["create_app"]
