"""`python -m cli` is the same as the `concierge` command."""

from cli.main import main

main()
