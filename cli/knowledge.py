"""Command-line entry points of the knowledge base: `ingest` and `ask`."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from knowledge.answers import KnowledgeBase


class AskAs(StrEnum):
    """Who is asking, which decides the documents that may be used."""

    client = "client"
    staff = "staff"


class AskLanguage(StrEnum):
    """Answer language."""

    ru = "ru"
    en = "en"


# sysexits' EX_TEMPFAIL: "busy, try again later", so a cron job can tell it from a failure.
EXIT_BUSY = 75


def _knowledge_base() -> KnowledgeBase:
    from common.settings import get_settings

    return KnowledgeBase.from_settings(get_settings())


def _database_url() -> str:
    from common.settings import get_settings

    return get_settings().database.url


def ingest(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Folder (the whole document set) or one file (only that document); "
            "default KNOWLEDGE_DOCS_PATH"
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
    wait: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds to wait for another running ingestion (default: refuse)"
        ),
    ] = 0.0,
) -> None:
    """Index the bank's documents: new and changed ones are embedded, removed ones deleted.

    Given one file, only that document is added or updated; nothing else is removed.

    One ingestion runs at a time (a lock in the CRM database); a second one waits up to
    --wait seconds, then exits with code 75.
    """
    from crm_adapter.sql import SqlCrm
    from knowledge.ingest import IngestionInterrupted
    from knowledge.ingest_lock import (
        IngestionBusy,
        IngestionLockUnavailable,
        ingest_exclusively,
        ingest_lock_for,
    )

    knowledge = _knowledge_base()

    async def _go() -> str:
        async with SqlCrm.opened(_database_url()) as crm:
            summary = await ingest_exclusively(
                knowledge, ingest_lock_for(crm), path=path, progress=not quiet, wait=wait
            )
        return summary.describe()

    try:
        typer.echo(asyncio.run(_go()))
    except IngestionBusy as busy:
        typer.echo(str(busy), err=True)
        raise typer.Exit(code=EXIT_BUSY) from None
    except (IngestionLockUnavailable, IngestionInterrupted) as problem:
        typer.echo(str(problem), err=True)
        raise typer.Exit(code=1) from None


def ask(
    question: Annotated[str, typer.Argument(help="The question, in Russian or English")],
    as_: Annotated[AskAs, typer.Option("--as", help="Whose permissions apply")] = AskAs.client,
    lang: Annotated[
        AskLanguage | None, typer.Option("--lang", help="Answer language; default: detected")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Answer a question from the indexed documents, with citations."""
    knowledge = _knowledge_base()
    if knowledge.is_empty():
        typer.echo("The index is empty: run `ingest` first.", err=True)
        raise typer.Exit(code=1)
    answer = knowledge.answer(question, audience=as_.value, language=lang.value if lang else None)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    typer.echo(answer.text)
    for number, citation in enumerate(answer.citations, 1):
        typer.echo(f"  [{number}] {citation.title} — {citation.section} ({citation.doc_id})")
    typer.echo(
        f"confidence {answer.confidence:.2f}"
        f"{'; needs manager' if answer.needs_manager else ''}"
        f"{f'; interest: {answer.interest_family}' if answer.interest_family else ''}"
    )


def register(app: typer.Typer) -> None:
    """Add the knowledge-base commands to the project's CLI."""
    app.command("ingest")(ingest)
    app.command("ask")(ask)
