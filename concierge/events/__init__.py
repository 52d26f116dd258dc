"""Closed events for VIP clients, one module per concern; import from the module that owns a thing.

- `model`: event and invitation statuses, `EventError`, seats.
- `drafts`: a coordinator's new event (the draft, its checks, storing it).
- `audience`: who an event's criteria select and who the contact policy excludes.
- `invitations`: the coordinator's preview, managers' choices, sending the invitations.
- `rsvp`: a guest's answer, capacity and the waitlist, the note to their manager.
- `checkin`: check-in codes and admission at the door.
- `reminders`: the scheduled nudges, reminders and thank-you.
- `changes`: moving, resizing and cancelling an event.
- `attendance`: a client's invitations, their history as signals, the rating after.
- `tracking`: counts, the overview, guest lists and the CSV export.
- `messages`, `calendar_file`, `chart`, `delivery`: texts, .ics files, the RSVP chart, and how
  messages are handed to the notifier.

None commits (the caller owns the transaction); every message to someone outside the current
conversation goes through the `Notifier` port.
"""
