"""Projects: one ``leadgate.yaml`` per dataset naming its mapping, feature set, fit rules, policy and model.

A project folder holds everything leadgate needs to qualify one source of leads, so no command repeats a
flag and nothing of one dataset (X Education, the shipped example) leaks into another::

    # leadgate.yaml
    project_version: 1
    name: olist
    mapping: mapping.yaml          # column mapping of the leads file
    features: features.yaml        # feature set over pre-decision columns
    fit_rules: fit.yaml            # optional: ICP fit rules and the rule fallback's probability bands
    policy: policy.yaml            # qualification policy
    model: olist_propensity        # registry name: train registers name@champion, qualify loads it
    outcomes: outcomes.yaml        # optional: mapping of an outcomes file (leadgate outcomes import)
    destinations: destinations.yaml  # optional: where actions are delivered (leadgate worker)
    data: leads.csv                # optional: the labelled file train and evaluate read by default
    evaluation:                    # optional
      folds: 5
      max_rejected_share: 0.05
    monitoring:                    # optional
      max_out_of_range_share: 0.2

Paths are relative to the folder holding ``leadgate.yaml``. The file is read with the same line-precise,
duplicate-key-refusing checker as policies (``leadgate.yamlcheck``). ``find_project`` picks the folder:
``--project DIR``, else ``LEADGATE_PROJECT``, else the current folder when it holds a ``leadgate.yaml``.

``load_project`` loads and cross-checks the parts, so a mismatch is one clear error before any data is read:
every feature reads a declared ``pre_decision`` column (the leakage guard), every fit rule reads a feature of
the feature set, and every ``attributes.*`` field the policy reads is a declared ``pre_decision`` column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadgate.errors import LeadgateError
from leadgate.yamlcheck import YamlError, check_yaml

PROJECT_FILE = "leadgate.yaml"
"""The name of a project file inside its folder."""

#: Default share of rejected rows above which ``train`` and ``evaluate`` refuse to go on (5%): a mapping
#: that rejects more than one row in twenty usually misses a missing-value token or a spelling, and the
#: remaining rows no longer have the file's base rate (the issue measured 22.7% rejected on one export).
DEFAULT_MAX_REJECTED_SHARE = 0.05


class ProjectError(LeadgateError, ValueError):
    """A project file, or one of the files it names, is invalid or they do not fit together."""


Candidate = Literal["lightgbm", "logistic", "blend"]
"""A model ``train`` may choose (``leadgate.scoring.selection.CANDIDATE_NAMES``)."""
ALL_CANDIDATES: tuple[Candidate, ...] = ("lightgbm", "logistic", "blend")


class EvaluationSettings(BaseModel):
    """How ``evaluate`` and ``train`` check a project's data.

    Attributes:
        folds: folds of the stratified k-fold and blocks of the forward-in-time evaluation (>= 2).
        max_rejected_share: share of rejected rows (0..1) above which train and evaluate refuse
            (``--allow-rejected`` overrides); default ``DEFAULT_MAX_REJECTED_SHARE``.
        candidates: the models ``train`` chooses from (``lightgbm``, ``logistic``, ``blend``; default all).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    folds: Annotated[int, Field(ge=2, le=20)] = 5
    max_rejected_share: Annotated[float, Field(ge=0.0, le=1.0)] = DEFAULT_MAX_REJECTED_SHARE
    candidates: Annotated[list[Candidate], Field(min_length=1)] = Field(
        default_factory=lambda: list(ALL_CANDIDATES)
    )


#: Default share of qualified leads with a feature outside the training range above which ``qualify`` warns
#: and recommends retraining (20%): one lead in five scored where the model never saw data is where
#: forward-in-time evaluations lose most of their accuracy (the issue measured 98.5% out of range on the
#: newest fifth of Olist's leads, with AUC falling from 0.80 to 0.65).
DEFAULT_MAX_OUT_OF_RANGE_SHARE = 0.2


class MonitoringSettings(BaseModel):
    """What ``qualify`` and the API watch.

    Attributes:
        max_out_of_range_share: share (0..1) of leads with a feature outside the training range above
            which the run summary warns and recommends retraining.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_out_of_range_share: Annotated[float, Field(ge=0.0, le=1.0)] = DEFAULT_MAX_OUT_OF_RANGE_SHARE


class ProjectFile(BaseModel):
    """The ``leadgate.yaml`` document (paths as written, relative to its folder)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    project_version: Literal[1] = 1
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    mapping: Path
    features: Path
    fit_rules: Path | None = None
    policy: Path
    model: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)]
    outcomes: Path | None = None
    destinations: Path | None = None
    data: Path | None = None
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)


@dataclass(frozen=True)
class Project:
    """A project file with its paths resolved against its folder.

    Attributes:
        root: the folder holding ``leadgate.yaml``.
        spec: the validated file.
    """

    root: Path
    spec: ProjectFile

    @property
    def name(self) -> str:
        """The project's name."""
        return self.spec.name

    @property
    def model(self) -> str:
        """Registry name of the project's model."""
        return self.spec.model

    @property
    def model_ref(self) -> str:
        """``model@champion``: what ``qualify``, ``explain`` and ``serve`` load."""
        return f"{self.spec.model}@champion"

    def path(self, relative: Path) -> Path:
        """``relative`` resolved against the project folder (absolute paths are kept)."""
        return relative if relative.is_absolute() else self.root / relative

    @property
    def mapping_path(self) -> Path:
        """The column mapping."""
        return self.path(self.spec.mapping)

    @property
    def features_path(self) -> Path:
        """The feature set."""
        return self.path(self.spec.features)

    @property
    def policy_path(self) -> Path:
        """The policy."""
        return self.path(self.spec.policy)

    @property
    def fit_rules_path(self) -> Path | None:
        """The fit rules, or None when the project has none."""
        return None if self.spec.fit_rules is None else self.path(self.spec.fit_rules)

    @property
    def outcomes_path(self) -> Path | None:
        """The outcomes mapping, or None."""
        return None if self.spec.outcomes is None else self.path(self.spec.outcomes)

    @property
    def destinations_path(self) -> Path | None:
        """The destinations file ``leadgate worker`` delivers to, or None."""
        return None if self.spec.destinations is None else self.path(self.spec.destinations)

    @property
    def data_path(self) -> Path | None:
        """The labelled leads file ``train`` and ``evaluate`` read by default, or None."""
        return None if self.spec.data is None else self.path(self.spec.data)


def find_project(explicit: Path | None, env_value: Path | None, cwd: Path | None = None) -> Path | None:
    """The project file to use: ``explicit``, else ``env_value``, else ``cwd/leadgate.yaml`` if it exists.

    Args:
        explicit: ``--project`` (a folder or a ``leadgate.yaml`` file), or None.
        env_value: ``LEADGATE_PROJECT`` (same), or None.
        cwd: the current folder (default ``Path.cwd()``).

    Returns:
        The path of a ``leadgate.yaml``, or None when no project is named and the current folder has none.

    Raises:
        ProjectError: a named project folder or file does not exist.
    """
    for given, origin in ((explicit, "--project"), (env_value, "LEADGATE_PROJECT")):
        if given is None:
            continue
        path = given / PROJECT_FILE if given.is_dir() else given
        if not path.is_file():
            raise ProjectError(f"{origin} {given}: no {PROJECT_FILE} there (create one with `leadgate init`)")
        return path
    here = (cwd or Path.cwd()) / PROJECT_FILE
    return here if here.is_file() else None


def read_project(path: Path) -> Project:
    """Read and validate a ``leadgate.yaml`` (the files it names are checked by ``load_parts``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ProjectError: ``file:line:col: path: message`` for each problem (syntax, duplicate keys, unknown
            keys, wrong types), or a named file that does not exist.
    """
    spec, issues = check_yaml(path.read_text(encoding="utf-8"), ProjectFile, "project file")
    if spec is None:
        raise ProjectError(str(YamlError(str(path), issues)))
    project = Project(path.parent.resolve(), spec)
    named = {
        "mapping": project.mapping_path,
        "features": project.features_path,
        "policy": project.policy_path,
        "fit_rules": project.fit_rules_path,
        "outcomes": project.outcomes_path,
        "destinations": project.destinations_path,
        "data": project.data_path,
    }
    absent = [f"{key}: {p}" for key, p in named.items() if p is not None and not p.is_file()]
    if absent:
        raise ProjectError(f"{path}: files named by the project do not exist: {'; '.join(absent)}")
    return project


def served_policy_path(settings: Any) -> Path:
    """The policy file a server or worker applies.

    The project's (``LEADGATE_PROJECT``) when set, else ``LEADGATE_POLICY_FILE``, else the shipped default
    (``leadgate/defaults/policy.yaml``).

    Raises:
        ProjectError: the named project does not exist or is invalid.
    """
    from leadgate.defaults import default_path

    if settings.project is not None:
        found = find_project(settings.project, None)
        if found is not None:
            return read_project(found).policy_path
    return Path(settings.policy_file) if settings.policy_file is not None else default_path("policy.yaml")
