"""Unit tests of the scheduler: pure rules and policy, no database."""
