"""Database plumbing: a breaker that turns a database outage into fast 503s, and read
replicas (``replicas``: what each can serve; ``router``; ``routing``: the per-request
read scope; ``middleware``: read-your-writes and a retry on the primary)."""
