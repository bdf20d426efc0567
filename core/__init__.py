"""Site-wide infrastructure: request ids, hostile-input and outage handling, timing
headers, logging helpers and the health check.

Nothing here knows about books: ``core`` imports no other app of the project, and the
domain (``books``) and the interface (``api``) build on it.
"""
