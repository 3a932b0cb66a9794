"""The read-only web console (``archiver web``): search, timelines, post versions with a word
diff, replay links, holds, plans, reports and the audit trail, behind sign-in and roles."""

from archiver.web.app import Console, Request, Response
from archiver.web.server import ConsoleServer

__all__ = ["Console", "ConsoleServer", "Request", "Response"]
