"""The one place where the stages are composed, readable top to bottom.

    CSV / JSON / form / email / chat  --ingest-->  Lead  --features-->  frame  --scoring-->  Score
        --policy-->  Decision  --routing-->  Assignment (rep, rule, SLA deadline)  --actions-->  outbox
        --audit-->  DB (decision chain, work-event chain)            leadgate worker: outbox --> CRM, rep

Each arrow lives in its own module; this one names them and is what the CLI, the API and the chat import:

    leadgate.ingest       read_raw_chunks, map_chunk: file -> CsvChunk (valid records and rejected rows)
    leadgate.db.rows      lead_row, dead_letter_row: records -> stored rows; decision_from_row: row -> Decision
    leadgate.qualifier    Qualifier: records -> FeatureSet frame -> model | rule fallback -> policy ->
                          decision rows and inline explanations (in memory, no store writes)
    leadgate.audit.log    store_decisions (hash chain + explanations); latest_decision, explain_stored,
                          verify_audit_log
    leadgate.runs         import_file, qualify_file: a file chunk by chunk, each chunk's leads, dead letters,
                          decisions and checkpoint in one transaction, resumable (``resume=True`` loses and
                          doubles nothing)
    leadgate.batches      qualify_leads_routed: a batch of leads (API, forms, email, chat) stored, decided,
                          routed and acted on in one transaction,
                          routed to reps there too (qualify_leads_routed -> Qualified with the assignments)
    leadgate.routing      Router, route_decisions: decisions -> Assignment (existing owner, territory, round
                          robin with caps), stored with its work event in the decision's transaction
    leadgate.routing      route_decisions: the policy's routing section over reps.yaml -> Assignment per decision,
                          with its SLA deadline (leadgate.sla), stored with its work event, in the decision's
                          transaction (qualify_leads*(router=...))
    leadgate.actions      enqueue_decided: the decision's actions (CRM record and task, rep notification,
                          nurture) into the outbox in the same transaction (qualify_leads*(routes=...));
                          the worker's Dispatcher delivers them to the destinations (leadgate.adapters)
    leadgate.export       the decisions CSV (DECISION_CSV_COLUMNS) of a run
    leadgate.training     load_training_data, train_and_register
"""

from leadgate.audit.log import explain_stored, latest_decision, store_decisions, verify_audit_log
from leadgate.batches import Qualified, qualify_leads, qualify_leads_flagged, qualify_leads_routed
from leadgate.db.rows import (
    LeadLike,
    as_record,
    dead_letter_row,
    decision_from_row,
    explanation_row,
    lead_row,
    outcome_dead_letter_rows,
)
from leadgate.export import DECISION_CSV_COLUMNS, export_run, run_counts
from leadgate.qualifier import (
    ACTOR,
    Decided,
    ExplainMode,
    Qualifier,
    QualifierConfigError,
    ScoredBatch,
    check_fit_rules,
    check_policy_fields,
)
from leadgate.runs import (
    AfterCommit,
    ChunkOutput,
    ChunkTask,
    ImportInProgressError,
    ImportSummary,
    QualifySummary,
    import_file,
    process_chunk,
    qualify_file,
)
from leadgate.training import TrainingData, load_training_data, train_and_register

__all__ = [
    "ACTOR",
    "DECISION_CSV_COLUMNS",
    "AfterCommit",
    "ChunkOutput",
    "ChunkTask",
    "Decided",
    "ExplainMode",
    "ImportInProgressError",
    "ImportSummary",
    "LeadLike",
    "Qualified",
    "Qualifier",
    "QualifierConfigError",
    "QualifySummary",
    "ScoredBatch",
    "TrainingData",
    "as_record",
    "check_fit_rules",
    "check_policy_fields",
    "dead_letter_row",
    "decision_from_row",
    "explain_stored",
    "explanation_row",
    "export_run",
    "import_file",
    "latest_decision",
    "lead_row",
    "load_training_data",
    "outcome_dead_letter_rows",
    "process_chunk",
    "qualify_file",
    "qualify_leads",
    "qualify_leads_flagged",
    "qualify_leads_routed",
    "run_counts",
    "store_decisions",
    "train_and_register",
    "verify_audit_log",
]
