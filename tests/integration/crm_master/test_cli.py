"""`concierge crm …`: sync with progress, the queue and its dead letters, push; a CRM that
cannot be reached ends in one line and exit code 75, with no URL in it."""

from __future__ import annotations

import sys

import pytest

from bench.bitrix24_standin import Bitrix24StandIn
from cli import crm as crm_cli
from cli import main as cli_main
from common.settings import CrmSettings, DatabaseSettings, Settings
from crm_adapter.master.records import Stream
from crm_adapter.sql import SqlCrm
from tests.conftest import DEFAULT_NOW as NOW


def _settings(sqlite_url: str, webhook: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=sqlite_url),
        crm=CrmSettings(backend="bitrix24", bitrix24_webhook_url=webhook),
    )


async def test_sync_queue_and_push_by_hand(
    sqlite_url: str,
    store: SqlCrm,
    standin: Bitrix24StandIn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = _settings(sqlite_url, standin.webhook_url)
    report = await crm_cli.run_sync(settings, full=True, progress=True)
    assert report[Stream.CLIENTS].created == 32
    assert "clients: 100%" in capsys.readouterr().err  # the progress bars
    async with store.unit_of_work() as uow:
        client = await uow.clients.by_external_id("C-0001")
        assert client is not None
        await uow.profiles.add_note(
            client_id=client.id, author_id=None, text="Звонил", kind="note", now=NOW
        )
        await uow.commit()
    status, requeued = await crm_cli.queue_status(settings, retry_dead=False)
    assert (status.pending, requeued) == (1, 0)
    tally = await crm_cli.push(settings)
    assert tally.delivered == 1
    assert standin.portal.written == {"note:1": 1}


def test_an_unreachable_crm_ends_in_one_line_and_exit_75(
    command_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    webhook = "http://127.0.0.1:9/rest/1/very-secret-key/"  # nothing listens on port 9
    monkeypatch.setenv("CRM_BACKEND", "bitrix24")
    monkeypatch.setenv("CRM_BITRIX24_WEBHOOK_URL", webhook)
    monkeypatch.setattr(sys, "argv", ["concierge", "crm", "sync", "--quiet"])
    # The command sets up the process's logging; here that would outlive the test's streams.
    monkeypatch.setattr(crm_cli, "configure_logging", lambda _settings: None)
    with pytest.raises(SystemExit) as ended:
        cli_main.main()
    assert ended.value.code == 75
    err = capsys.readouterr().err
    assert "the bank's CRM is unavailable (unreachable)" in err
    assert "very-secret-key" not in err and "Traceback" not in err
