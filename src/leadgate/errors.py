"""The one error base class: every error leadgate raises on purpose derives from ``LeadgateError``.

The command line prints a ``LeadgateError`` as one line (``error: <message>``) and exits 1; anything else
is a bug and keeps its traceback. Subclasses also derive from the built-in class that fits
(``ValueError`` for bad input, ``LookupError`` for something not found), so callers may catch either.
"""

from __future__ import annotations


class LeadgateError(Exception):
    """Base of every error leadgate raises on purpose; ``str()`` is one line a user can act on."""
