"""Database plumbing: a breaker that turns a database outage into fast 503s."""
