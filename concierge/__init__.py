"""Use cases shared by the bot handlers, the scheduler jobs and the CLI."""
