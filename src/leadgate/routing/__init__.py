"""Routing: who works a decided lead (existing owner, territory rules, weighted round robin with caps).

Decision + lead --policy routing section, reps--> Assignment --store_assignment--> assignments + work event
"""

from leadgate.routing.records import current_assignment, store_assignment

__all__ = ["current_assignment", "store_assignment"]
