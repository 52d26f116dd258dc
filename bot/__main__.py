"""`python -m bot` is the same as the `concierge` command."""

from bot.cli import main

main()
