"""Writes of the studies package, one module per job: a study's life (``lifecycle``), its
imports (``imports``; ``study_import`` itself is readerstudy.studies.ingest.importer, the one
service every way of importing calls) and its readers (``enrolment``)
and who they are (``profiles``)."""

from readerstudy.studies.ingest.importer import (
    ImportOptions,
    ImportResult,
    ImportSource,
    study_import,
)
from readerstudy.studies.services.enrolment import (
    EnrolmentOutcome,
    enrolment_consent_give,
    enrolment_create,
    readers_enrol,
)
from readerstudy.studies.services.imports import (
    import_job_create,
    import_job_run,
    import_staging_dir,
    import_undo,
)
from readerstudy.studies.services.lifecycle import (
    require_biopsy_proven_default,
    scheme_resolve,
    study_build,
    study_create,
    study_delete,
    study_status_set,
    study_update,
    task_resolve,
)
from readerstudy.studies.services.profiles import reader_profile_save

__all__ = [
    "EnrolmentOutcome",
    "ImportOptions",
    "ImportResult",
    "ImportSource",
    "enrolment_consent_give",
    "enrolment_create",
    "import_job_create",
    "import_job_run",
    "import_staging_dir",
    "import_undo",
    "reader_profile_save",
    "readers_enrol",
    "require_biopsy_proven_default",
    "scheme_resolve",
    "study_build",
    "study_create",
    "study_delete",
    "study_import",
    "study_status_set",
    "study_update",
    "task_resolve",
]
