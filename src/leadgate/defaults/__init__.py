"""Files shipped inside the package: the default policy, feature set and column mapping (X Education).

They are copies of ``examples/xeducation/*.yaml``; ``tests/test_defaults.py`` keeps them identical.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def default_path(name: str) -> Path:
    """Path of a shipped default file (``policy.yaml``, ``features.yaml``, ``mapping.yaml``).

    Raises:
        FileNotFoundError: no such default.
    """
    path = Path(str(resources.files("leadgate.defaults") / name))
    if not path.is_file():
        raise FileNotFoundError(f"no default file {name!r} in leadgate.defaults")
    return path
