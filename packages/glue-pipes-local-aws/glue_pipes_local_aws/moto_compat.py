"""The one place the endpoint reaches into moto's internals (its server's WSGI app and request handler);
moto is pinned to the minor version these come from, and tests/test_compat.py fails loudly if they move."""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

__all__ = ["DomainDispatcherApplication", "MotoRequestHandler", "create_backend_app"]
