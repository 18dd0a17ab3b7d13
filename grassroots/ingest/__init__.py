"""Ingestion of a landing zone laid out per the delivery standard into the DuckDB warehouse.

One run = one DuckDB transaction: a run killed half-way leaves the warehouse as it was, and the
next run redoes the work.  Files are parsed and validated set-based in DuckDB (typed
``read_csv`` of all files of a dataset at once, rules as SQL from ``grassroots.rules``); Python
only walks folders, reads manifests and reads each data file once — its sha256, the encoding
check and the archive copy all come from that one read (the landing zone's cost is bound by
file count more than by bytes).  One I/O thread reads the next chunk's files and writes the
archive while DuckDB loads the current chunk; the run commits only after every archive write.

What happens to a facility-day folder (``extracts/<date>/<facility>/``):

* no ``manifest.json``, a listed file missing, or a file whose sha256 or row count disagrees
  with the manifest: ``incomplete`` — nothing of it loads; it is reported (and re-checked on every
  run, so a folder that is still being copied loads once it is whole);
* unusable manifest (bad JSON, wrong facility/date, unknown facility, unknown encoding):
  ``rejected``;
* same version and content as the loaded one: nothing to do;  same version, other content:
  ``conflict`` (nothing changes);  lower version than the loaded one: ``superseded``;
* otherwise it loads: the earlier version's rows go (every dataset of that facility-day, so a
  dataset absent from the new manifest is removed), the new rows come in; a file with a bad
  encoding or a missing column, or one the CSV reader cannot parse (``type_error``), is rejected
  whole, bad rows are quarantined, the rest loads.

The modules, in the order a run uses them: ``run`` (the orchestrator), ``reference`` (snapshots),
``discover`` (folders and manifests), ``classify`` (what a folder is), ``load`` (chunks:
``decode``, ``stage``, ``validate``), ``archive`` (files as delivered), ``audit`` (every write to
the audit schema); ``state`` holds what a run carries between them.
"""

from grassroots.ingest.delivery import DataFile, Delivery
from grassroots.ingest.discover import read_manifest, scan_landing, verify_files
from grassroots.ingest.run import RunReport, connect, ingest
from grassroots.ingest.state import IngestError

__all__ = [
    "DataFile",
    "Delivery",
    "IngestError",
    "RunReport",
    "connect",
    "ingest",
    "read_manifest",
    "scan_landing",
    "verify_files",
]
