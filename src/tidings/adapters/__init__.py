"""Adapters to the outside world: the HTTP client for callbacks, blob
stores, media probes, push channels, the senders of one-time codes, and
password hashing. They import domain/ (and config), never services/: the use
cases call them through the small interfaces they define."""
