"""The chat front door: flows (slot filling), NLU (intents, entities), retrieval, handoff and booking.

Sub-packages are imported on demand; importing ``leadgate.chat`` itself loads nothing heavy.
``leadgate.chat.nlu`` is the pure natural-language-understanding stage (no database, no network).
"""
