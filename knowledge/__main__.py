"""`python -m knowledge ingest|ask` until the commands are wired into `concierge`."""

import typer

from knowledge.cli import register

app = typer.Typer(help="Knowledge base of the bank's documents", no_args_is_help=True)
register(app)

if __name__ == "__main__":
    app()
