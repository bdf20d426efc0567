"""An app that knows nothing of books: the proof that bench is reusable.

tests/bench/test_reuse.py runs bench with this app's declarations alone. It lists
django.contrib.auth's permissions, rows every test database has, once the tutorial
way (one content-type query per row) and once tuned.
"""
