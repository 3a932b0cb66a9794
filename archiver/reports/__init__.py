"""Compliance reports: build the data (:mod:`.build`), render it (:mod:`.render`)."""

from archiver.reports.build import KINDS, Report, Table, build_report
from archiver.reports.render import FORMATS, render

__all__ = ["FORMATS", "KINDS", "Report", "Table", "build_report", "render"]
