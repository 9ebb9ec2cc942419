"""leadgate: self-hosted, explainable and auditable lead qualification.

The stages follow the data flow ``contracts -> ingest -> features -> scoring -> policy -> audit``;
``leadgate.pipeline`` is the one module that composes them.
"""

__version__ = "0.1.0"
