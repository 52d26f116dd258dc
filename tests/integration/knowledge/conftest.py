"""A knowledge base over the sample documents in a temporary chroma, with the fake embedder."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from cli import knowledge as knowledge_commands
from common.settings import KnowledgeSettings
from knowledge.answers import KnowledgeBase
from tests.unit.knowledge.fakes import HashingEmbedder

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SAMPLE_DOCS = Path(__file__).resolve().parents[3] / "knowledge" / "docs"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A private copy of the sample documents, free to edit."""
    target = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, target)
    return target


def copy_documents(target: Path, names: list[str]) -> Path:
    """A folder with only some of the sample documents: faster to ingest."""
    target.mkdir()
    for name in names:
        shutil.copy(SAMPLE_DOCS / name, target / name)
    return target


@pytest.fixture
def settings(tmp_path: Path, docs: Path) -> KnowledgeSettings:
    return KnowledgeSettings(
        docs_path=docs,
        chroma_path=tmp_path / "chroma",
        embedding_model="fake",
        collection="test_documents",
    )


@pytest.fixture
def kb(settings: KnowledgeSettings) -> KnowledgeBase:
    knowledge = KnowledgeBase(settings, HashingEmbedder())
    knowledge.ingest()
    return knowledge


def knowledge_cli(
    kb: KnowledgeBase, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> typer.Typer:
    """The `knowledge` commands over this knowledge base; `ingest` takes its lock in the CRM
    database at `database_url`."""
    monkeypatch.setattr(knowledge_commands, "_knowledge_base", lambda: kb)
    monkeypatch.setattr(knowledge_commands, "_database_url", lambda: database_url)
    application = typer.Typer()
    knowledge_commands.register(application)
    return application


STAFF_QUESTION = "матрица эскалации красная кнопка дежурная служба backup-менеджер"


def assert_clients_never_get_staff_chunks(kb: KnowledgeBase) -> None:
    """A question only a staff document answers: clients get none of it in any search mode
    nor in the answer's citations, staff find that document first."""
    for mode in ("bm25", "dense", "hybrid"):
        client_hits = kb.search(STAFF_QUESTION, audience="client", limit=50, mode=mode)
        assert client_hits and all(h.chunk.audience == "client" for h in client_hits)
        staff_hits = kb.search(STAFF_QUESTION, audience="staff", limit=3, mode=mode)
        assert staff_hits[0].chunk.doc_id == "staff-escalation-matrix"
    answer = kb.answer(STAFF_QUESTION, audience="client")
    assert all(not c.doc_id.startswith("staff-") for c in answer.citations)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chroma_executable() -> str | None:
    # The `chroma` script of the venv running the tests, else whatever is on PATH.
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.exists() else shutil.which("chroma")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on a free loopback port, for the whole run; its URL."""
    executable = _chroma_executable()
    if executable is None:
        pytest.skip("the chroma executable is not installed")
    data = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log_path = data / "server.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                executable,
                "run",
                "--path",
                str(data / "db"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"chroma server exited: {log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("chroma server did not answer its heartbeat within 30 s")
            time.sleep(0.05)
        yield url
    finally:
        # Throwaway data: no need for a graceful shutdown (which takes about a second).
        process.kill()
        process.wait()
