from __future__ import annotations

import time
import uuid

from leadgate.db.store import new_id, new_ids


def test_new_ids_are_unique_uuid7_and_time_ordered() -> None:
    first = new_ids(2000)
    time.sleep(0.002)
    later = new_id()
    parsed = [uuid.UUID(x) for x in first]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(first)) == 2000
    # the first 48 bits are the Unix time in milliseconds: later ids sort after earlier ones
    assert all(x[:13] < later[:13] for x in first)
    ms = int(first[0].replace("-", "")[:12], 16)
    assert abs(ms - time.time() * 1000) < 5000
