"""Personal data: encryption at rest, erasure, export (Art. 15) and retention (issue 8, items 5 and 7).

    crypto.py     key ring (KEKs from settings, wrapped DEKs in the database), AES-GCM tokens, blind index
    fields.py     which fields of which table are personal; splitting a lead into its two parts
    rotate.py     ``leadgate keys rotate-data-key`` / ``rotate-kek``: re-encrypt in batches, re-wrap
    erase.py      ``leadgate privacy erase``: remove a person's data everywhere, write a tombstone
    export.py     ``leadgate privacy export``: everything held about a person, as JSON
    retention.py  ``leadgate privacy purge``: retention periods per data kind

See docs/security.md, "Personal data".
"""
