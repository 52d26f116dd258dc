"""The CRM writer in its own OS process, for the test that kills it between send and confirm.

    python -m tests.crm_writer_process DATABASE_URL WEBHOOK_URL WORKER_ID

writes the store's queue to the Bitrix24 stand-in at WEBHOOK_URL until killed; prints READY
once it is wired.
"""

from __future__ import annotations

import asyncio
import sys

from common.clock import SystemClock
from crm_adapter.master.bitrix24.adapter import Bitrix24Crm
from crm_adapter.master.bitrix24.rest import Bitrix24Rest
from crm_adapter.sql import SqlCrm
from scheduler.crm_writer import CrmWriter

READY = "READY"


async def main(database_url: str, webhook_url: str, worker_id: str) -> None:
    crm = SqlCrm.from_url(database_url, write_back=True)
    master = Bitrix24Crm(
        Bitrix24Rest(webhook_url=webhook_url, requests_per_second=1000),
        holdings_entity_type_id=1032,
        life_events_entity_type_id=1036,
    )
    writer = CrmWriter(crm, master, SystemClock(), worker_id=worker_id)
    print(READY, flush=True)  # noqa: T201 - the test reads this line from the pipe
    await writer.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
