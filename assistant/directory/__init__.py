"""The campus directory: import and export of the campus files (docs/org-files.md).

``load_org`` reads and checks the files completely, ``import_org`` writes them into the
database inside the caller's unit of work, and ``export_org`` writes the database back out.
"""

from assistant.directory.data import OrgData
from assistant.directory.exporter import export_org
from assistant.directory.importer import Counts, ImportReport, import_org
from assistant.directory.loader import load_org
from assistant.directory.problems import OrgFileError, OrgProblem

__all__ = [
    "Counts",
    "ImportReport",
    "OrgData",
    "OrgFileError",
    "OrgProblem",
    "export_org",
    "import_org",
    "load_org",
]
