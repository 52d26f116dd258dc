"""Proactive work: trigger rules, the scheduler, the outbox and its delivery worker."""
