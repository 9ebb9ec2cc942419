"""Browser-facing pages and the embeddable chat widget (``routes.router``)."""
