"""The catalogue's caching rules, one concern per module.

- ``keys``: every key and TTL.
- ``freshness``: the catalogue version the database keeps (bumped by triggers in the
  writing transaction), published to the cache once per transaction, and a
  per-process sync that converges within ``CATALOGUE_SYNC_SECONDS`` whoever wrote.
- ``breaker``: skip an unreachable cache for a moment instead of paying its timeout.
- ``locks``: stampede-safe get-or-compute.
- ``responses``: whole anonymous responses with ETag/304 and ``X-Cache``.
- ``warming``: re-render the hottest pages after a write.
- ``bypass``: ``?nocache=1`` under DEBUG skips them all, for the debug toolbar.

Import the module you need (``from books.cache import responses``); this package
re-exports nothing, so each name has one home.
"""
