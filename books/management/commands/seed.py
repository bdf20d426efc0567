"""Build a deterministic, realistic data set: ``manage.py seed --books N``.

Same ``--seed`` and an empty database (or ``--reset``) give the same rows; without
``--reset`` the rows are added to what is there. Batches are streamed with PostgreSQL
COPY or executemany, so memory stays flat as N grows; the progress bars cover every
table written (authors, books, genre links, reviews).
"""

import time
from typing import IO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from books import seeding
from books.models import Book
from books.tasks import refresh_catalogue_stats


class Command(BaseCommand):
    help = "Seed publishers, genres, authors, books and about 5 reviews per book."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--books", type=int, default=2000, help="books to add")
        parser.add_argument(
            "--authors",
            type=int,
            default=None,
            help="authors to add (default: books / 8)",
        )
        parser.add_argument("--seed", type=int, default=42, help="random seed")
        parser.add_argument(
            "--reset", action="store_true", help="delete all data first"
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when books already exist",
        )
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(
        self,
        *args,
        books: int,
        authors: int | None,
        seed: int,
        reset: bool,
        if_empty: bool,
        batch_size: int,
        verbosity: int,
        **options,
    ) -> None:
        if books < 0 or (authors is not None and authors < 1) or batch_size < 1:
            raise CommandError("--books must be >= 0, --authors and --batch-size >= 1.")
        if if_empty and Book.objects.exists():
            if verbosity:
                self.stdout.write("Books already exist; not seeding.")
            return
        authors = authors if authors is not None else max(1, books // 8)
        if reset:
            seeding.reset()
            if verbosity:
                self.stdout.write("Deleted existing data.")

        started = time.perf_counter()
        # An OutputWrapper is a TextIOBase, which typeshed does not relate to IO[str].
        console = Console(file=cast(IO[str], self.stdout), force_terminal=False)
        with Progress(
            "[progress.description]{task.description:>12}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=verbosity == 0,
        ) as bar:
            # Genre links and reviews are drawn at random: their totals are known
            # only at the end (about 1.8 and 5 per book).
            totals = {"authors": authors, "books": books}
            tasks = {
                table: bar.add_task(table, total=totals.get(table))
                for table in ("authors", "books", "genre links", "reviews")
            }
            result = seeding.seed(
                books=books,
                authors=authors,
                seed=seed,
                batch_size=batch_size,
                progress=lambda table, rows: bar.advance(tasks[table], rows),
            )
            for task in tasks.values():
                done = bar.tasks[task].completed
                bar.update(task, total=done, completed=done)
        elapsed = time.perf_counter() - started
        # The home page's summary line, until the beat task next recomputes it.
        refresh_catalogue_stats()
        if verbosity:
            rows = result.books + result.authors + result.reviews + result.genre_links
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {result.books:,} books, {result.authors:,} authors, "
                    f"{result.genre_links:,} genre links and {result.reviews:,} "
                    f"reviews in {elapsed:.1f}s ({rows / max(elapsed, 1e-9):,.0f} "
                    "rows/s)."
                )
            )
