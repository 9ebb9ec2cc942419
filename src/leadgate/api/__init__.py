"""The HTTP API (FastAPI).

``create_app(settings)`` builds the application; routers live one file per resource.
"""

from leadgate.api.app import create_app

__all__ = ["create_app"]
