"""The cokg web app (installed as ``cokg.server``)."""
