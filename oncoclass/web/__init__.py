"""The OncoClass web page: one static page served by the API app itself (no separate server,
no build step, nothing fetched from the internet). :func:`mount_web` wires it into an app."""

from oncoclass.web.routes import mount_web

__all__ = ["mount_web"]
