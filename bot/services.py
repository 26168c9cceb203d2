"""What the process runs on, built once at start and shared by the web app, the CLI and the scheduler."""

import os
import socket
import uuid
from dataclasses import dataclass, field

from bot.config import Settings
from bot.delivery import Router
from bot.outbound import OutboxSender
from bot.timesource import TimeSource
from dialogs.engine import Dialogs
from dialogs.procedure import Procedure, load_procedure
from storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    procedure: Procedure
    dialogs: Dialogs
    time: TimeSource
    router: Router
    sender: OutboxSender = field(init=False)  # sends the outbox through `router` (bot.outbound)

    def __post_init__(self) -> None:
        # One name per process: the sender's leases say which process holds a row.
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.sender = OutboxSender(
            self.db, self.router, worker_id=worker, lease=self.settings.scheduler_lease_seconds
        )

    @classmethod
    def create(cls, settings: Settings, db: Database, time: TimeSource | None = None) -> "Services":
        procedure = load_procedure(settings.procedure_file)
        time = time or TimeSource()
        dialogs = Dialogs(
            db,
            procedure,
            nation=settings.nation,
            tz=settings.timezone,
            council=settings.council,
            now=time.now,
            export_records=settings.record_export_dir is not None,
        )
        return cls(settings=settings, db=db, procedure=procedure, dialogs=dialogs, time=time, router=Router())
