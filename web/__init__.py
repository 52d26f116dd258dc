"""The staff web desk: server-rendered pages for managers, coordinators and administrators.

A channel like the bot: pages parse the request, call the same use cases the handlers call,
and render; no business rule lives here. The core never imports this package.
"""
