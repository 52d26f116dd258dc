"""The MAX messenger: the same aiogram dispatcher, routers and handlers, over MAX's Bot API.

aiogram-max replaces the Bot API session (outgoing calls become MAX requests); this package
adds what a bank's bot needs on top of it: MAX events as aiogram updates bound to the bot,
private chats addressed by the person's id as in Telegram, MAX's errors as aiogram's,
message-length and button limits, and a webhook receiver.
"""
