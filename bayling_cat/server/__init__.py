"""The local REST hook for CAT tools (``bayling-cat serve``): bayling-cat's own API plus the protocols that
OmegaT, Weblate, Trados and memoQ plugins already speak, one module each, over one shared Service.

A Flask app served by waitress; a thin shell over the same engine, glossaries, revision conversations and
document pipeline as the command line. See app.py for the layout.
"""

from bayling_cat.server.app import check_host, create_app, is_loopback, serve

__all__ = ["check_host", "create_app", "is_loopback", "serve"]
