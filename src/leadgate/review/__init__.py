"""Human review: the review queue and overrides (approve, change the tier, re-assign), the rep inbox.

    decisions + assignments + work events --review_queue--> QueuePage --reviewer--> override (audited)
    assignments of one rep --rep_inbox--> InboxItem list --rep--> leadgate.sla.mark_first_touch

``rules`` is pure (what needs review, what an override changes, deadline words); ``store`` reads and
writes the queue and overrides; ``inbox`` the rep inbox and first touch; ``transcripts`` reads a lead's
chat. The staff pages are ``leadgate.web.staff_review`` and ``leadgate.web.staff_inbox``;
``docs/review.md`` describes them.
"""

from leadgate.review.inbox import rep_inbox
from leadgate.review.rules import ReviewCriteria, ReviewError, due_text, plan_override, queue_reasons
from leadgate.review.store import override, review_item, review_queue

__all__ = [
    "ReviewCriteria",
    "ReviewError",
    "due_text",
    "override",
    "plan_override",
    "queue_reasons",
    "rep_inbox",
    "review_item",
    "review_queue",
]
