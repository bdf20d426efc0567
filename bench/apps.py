"""The bench app: ``manage.py bench`` for any Django project.

It imports nothing from the project. Each installed app may declare what bench needs
(URL namespaces, the naive-route prefix, parameter variants, data picks, dataset
counts, cache clearing, reseeding) in a plain ``bench.py`` module that never imports
bench; ``bench.registry`` collects them per run, as the admin collects ``admin.py``.
The protocol is documented in ``bench/__init__.py``.
"""

from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "bench"
    verbose_name = "Bench"
