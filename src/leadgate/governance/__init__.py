"""Who may do what: roles and their permissions, and service API keys.

``roles`` holds the one role -> permission table the API's auth dependency (``leadgate.api.deps``) checks;
``api_keys`` creates, lists, rotates, revokes and verifies the service keys stored in ``api_keys``.
"""
