"""The OncoClass HTTP API (FastAPI): ``create_app()`` in :mod:`oncoclass.api.app`."""
