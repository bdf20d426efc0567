"""Deterministic, realistic data for ``manage.py seed``.

Rows are generated in batches from one ``random.Random(seed)`` stream, so the same seed
gives the same rows and memory stays flat however many books are asked for. Writers
stream each batch into the database: PostgreSQL ``COPY`` (psycopg 3), or
``executemany`` elsewhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Model
from django.utils.text import slugify

from books.cache import freshness
from books.models import Author, Book, Genre, Publisher, Review, isbn13_check_digit

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Alice",
    "Amara",
    "Anders",
    "Anna",
    "Arjun",
    "Astrid",
    "Ayesha",
    "Beatriz",
    "Bram",
    "Carmen",
    "Chen",
    "Chiara",
    "Clara",
    "Dara",
    "Diego",
    "Elena",
    "Elif",
    "Emeka",
    "Emil",
    "Esther",
    "Farah",
    "Felix",
    "Freya",
    "Gabriel",
    "Greta",
    "Hana",
    "Hugo",
    "Ines",
    "Ingrid",
    "Isaac",
    "Ivan",
    "Jamal",
    "Jonas",
    "Julia",
    "Kenji",
    "Kofi",
    "Lars",
    "Leila",
    "Lena",
    "Lucia",
    "Mateo",
    "Maya",
    "Mei",
    "Milan",
    "Mira",
    "Nadia",
    "Nico",
    "Nina",
    "Noah",
    "Olga",
    "Omar",
    "Oscar",
    "Paula",
    "Pedro",
    "Priya",
    "Rafael",
    "Rosa",
    "Ruth",
    "Sami",
    "Sara",
    "Selma",
    "Sofia",
    "Tariq",
    "Teodor",
    "Thea",
    "Tomas",
    "Uma",
    "Vera",
    "Victor",
    "Wanda",
    "Yara",
    "Yusuf",
    "Zara",
    "Zoltan",
]
LAST_NAMES = [
    "Abbott",
    "Adeyemi",
    "Alvarez",
    "Andersen",
    "Bauer",
    "Becker",
    "Bianchi",
    "Brennan",
    "Castillo",
    "Chandra",
    "Dubois",
    "Eriksen",
    "Farouk",
    "Fischer",
    "Garcia",
    "Haddad",
    "Hansen",
    "Hoffmann",
    "Ibrahim",
    "Ivanova",
    "Jansen",
    "Kaur",
    "Keller",
    "Kowalski",
    "Larsen",
    "Lindqvist",
    "Lopez",
    "Marino",
    "Moreau",
    "Murphy",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Ortega",
    "Park",
    "Petrov",
    "Quinn",
    "Rahman",
    "Reyes",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Sokolov",
    "Tanaka",
    "Torres",
    "Underwood",
    "Varga",
    "Vogel",
    "Wagner",
    "Weber",
    "Wojcik",
    "Yamamoto",
    "Zhang",
    "Ziegler",
]
COUNTRIES = [
    "Argentina",
    "Brazil",
    "Canada",
    "Chile",
    "Denmark",
    "Egypt",
    "France",
    "Germany",
    "Ghana",
    "India",
    "Ireland",
    "Italy",
    "Japan",
    "Kenya",
    "Mexico",
    "Netherlands",
    "Nigeria",
    "Norway",
    "Poland",
    "Portugal",
    "Spain",
    "Sweden",
    "Turkey",
    "Ukraine",
] + ["South Korea", "United Kingdom", "United States", "New Zealand"]
COUNTRIES_WITH_THE = frozenset({"Netherlands", "United Kingdom", "United States"})
PUBLISHER_WORDS = [
    "Harbor",
    "Lantern",
    "Meridian",
    "Northwind",
    "Oakleaf",
    "Pinecone",
    "Quarry",
    "Riverbend",
    "Saltmarsh",
    "Thistle",
    "Umber",
    "Vellum",
    "Willow",
    "Yarrow",
    "Atlas",
    "Beacon",
    "Cobalt",
    "Driftwood",
    "Ember",
    "Foxglove",
]
PUBLISHER_KINDS = ["Press", "Books", "House", "Editions", "Publishing"]
GENRES = [
    "Adventure",
    "Biography",
    "Classics",
    "Comics",
    "Cooking",
    "Crime",
    "Essays",
    "Fantasy",
    "History",
    "Horror",
    "Mystery",
    "Philosophy",
    "Poetry",
    "Politics",
    "Romance",
    "Science",
    "Thriller",
    "Travel",
] + [
    "Science Fiction",
    "Self-Help",
    "Young Adult",
    "True Crime",
    "Memoir",
    "Art",
]
ADJECTIVES = [
    "Silent",
    "Hidden",
    "Burning",
    "Broken",
    "Golden",
    "Last",
    "Lost",
    "Midnight",
    "Quiet",
    "Crimson",
    "Distant",
    "Forgotten",
    "Hollow",
    "Infinite",
    "Little",
    "Northern",
    "Paper",
    "Secret",
    "Shattered",
    "Wild",
    "Winter",
    "Velvet",
    "Iron",
    "Glass",
    "Salt",
    "Bitter",
    "Bright",
    "Endless",
    "Sleeping",
]
NOUNS = [
    "River",
    "City",
    "Garden",
    "House",
    "Empire",
    "Sea",
    "Mountain",
    "Orchard",
    "Letter",
    "Library",
    "Voyage",
    "Kingdom",
    "Harbor",
    "Forest",
    "Machine",
    "Clock",
    "Island",
    "Map",
    "Storm",
    "Lighthouse",
    "Winter",
    "Summer",
    "Daughter",
    "Son",
    "Witness",
    "Engine",
    "Theory",
    "Atlas",
    "Bridge",
    "Archive",
    "Comet",
    "Desert",
]
TITLE_PATTERNS = (
    "The {adj} {noun}",
    "{noun} of {noun2}",
    "A {adj} {noun}",
    "The {noun} and the {noun2}",
    "{adj} {noun}s",
    "Beyond the {adj} {noun}",
    "The Last {noun} of {place}",
    "Notes from the {noun}",
)
SENTENCES = (
    "A story about memory and the places that keep it.",
    "Told across three generations of one stubborn family.",
    "An unflinching look at ambition and what it costs.",
    "Funny, bleak and impossible to put down.",
    "The author's most ambitious work to date.",
    "A slow burn that rewards patience.",
    "Set against a city on the edge of change.",
    "Part mystery, part love letter to libraries.",
    "Its characters feel like people you have met.",
    "A quiet book about loud feelings.",
    "The prose is spare and exact.",
    "Every chapter ends on a question.",
)
# Author bios: where they come from, what they did before, what they write about.
BIO_ORIGINS = (
    "{name} was born in {year} in {country}",
    "Born in {country} in {year}, {name} grew up",
    "{name}, born in {year}, grew up in {country}",
)
BIO_ORIGINS_UNDATED = (
    "{name} grew up in {country}",
    "{name} was raised in {country}",
)
BIO_PLACES = (
    "by the sea",
    "in a small mill town",
    "above the family bookshop",
    "in the capital",
    "on a farm in the north",
    "in a house full of newspapers",
)
BIO_CAREERS = (
    "worked as a journalist for a decade before publishing a first book",
    "taught secondary-school literature for twenty years",
    "trained as a doctor and practised for years",
    "spent years as a translator of poetry",
    "was a merchant sailor, then a bookseller",
    "studied history and worked in archives and museums",
    "started out writing for radio and the stage",
    "worked as a lawyer until the first novel sold",
)
BIO_THEMES = (
    "family secrets",
    "migration and return",
    "small towns and the people who leave them",
    "science and the people who do it",
    "cities at night",
    "friendship across a lifetime",
    "the sea",
    "work and money",
    "memory and what it keeps",
    "crime and its consequences",
)
BIO_CLOSINGS = (
    "{surname} now lives in {city}.",
    "{surname}'s books have been translated into {languages} languages.",
    "{surname} divides the year between {city} and the coast.",
    "{surname} also writes essays and reviews for newspapers.",
)
CITIES = (
    "Lisbon",
    "Oslo",
    "Accra",
    "Montreal",
    "Osaka",
    "Berlin",
    "Buenos Aires",
    "Dublin",
    "Nairobi",
    "Kraków",
    "Melbourne",
    "Edinburgh",
)
REVIEW_LINES = {
    1: ("Could not finish it.", "Tedious and overlong.", "Not for me at all."),
    2: (
        "Some good ideas, poorly executed.",
        "The middle drags badly.",
        "Disappointing.",
    ),
    3: ("Solid, if unremarkable.", "Worth reading once.", "Good start, weak ending."),
    4: ("Really enjoyed it.", "Memorable characters.", "Would recommend to friends."),
    5: ("A masterpiece.", "Read it in one sitting.", "One of the best books I own."),
}

REVIEWS_PER_BOOK = 5  # the mean; per-book counts are skewed (many few, some many)
BOOK_EPOCH = date(1925, 1, 1)
BOOK_LAST = date(2025, 12, 31)
BOOK_SPAN_DAYS = (BOOK_LAST - BOOK_EPOCH).days
AUTHOR_BORN_FROM, AUTHOR_BORN_DAYS = date(1900, 1, 1), 36_500  # 1900 to 1999
ADULT_AGE, LAST_AGE = 18, 90  # an author publishes between these birthdays
REVIEW_EPOCH = datetime(2005, 1, 1, tzinfo=UTC)
REVIEW_SPAN_SECONDS = int(
    (datetime(2026, 6, 1, tzinfo=UTC) - REVIEW_EPOCH).total_seconds()
)
ROW_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ISBN_STRIDE = 7_919_317  # coprime with 10**9: distinct ids map to distinct ISBNs


def with_article(country: str) -> str:
    """ "the United States", "Norway": a country as a sentence names it."""
    return f"the {country}" if country in COUNTRIES_WITH_THE else country


def birthday(born: date, age: int) -> date:
    """The day ``born`` turns ``age`` (28 February for a 29 February birthday)."""
    try:
        return born.replace(year=born.year + age)
    except ValueError:
        return born.replace(year=born.year + age, day=28)


def publishing_window(born: date | None) -> tuple[int, int]:
    """(first day, number of days) in which an author born on ``born`` publishes:
    from their 18th birthday (or BOOK_EPOCH) to their 90th (or BOOK_LAST)."""
    if born is None:
        return BOOK_EPOCH.toordinal(), BOOK_SPAN_DAYS
    first = max(BOOK_EPOCH, birthday(born, ADULT_AGE))
    last = min(BOOK_LAST, birthday(born, LAST_AGE))
    return first.toordinal(), max(1, (last - first).days)


def isbn_for(book_id: int) -> str:
    """A valid, unique ISBN-13 derived from the book id."""
    first12 = f"978{(book_id * ISBN_STRIDE) % 10**9:09d}"
    return first12 + isbn13_check_digit(first12)


@dataclass
class Batch:
    """Rows for one batch, as tuples in the column order of ``COLUMNS``."""

    books: list[tuple] = field(default_factory=list)
    book_genres: list[tuple] = field(default_factory=list)
    reviews: list[tuple] = field(default_factory=list)


SEEDED = (Author, Book, Book.genres.through, Review, Publisher, Genre)
COLUMNS = {
    Book: (
        "id",
        "title",
        "isbn",
        "author_id",
        "publisher_id",
        "published",
        "pages",
        "price",
        "description",
        "created",
        "updated",
    ),
    Book.genres.through: ("book_id", "genre_id"),
    Review: ("id", "book_id", "reviewer", "rating", "body", "created"),
}


class Generator:
    """Builds rows from one random stream; nothing here touches the database."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def publishers(self, count: int) -> list[tuple[str, str]]:
        names = [f"{w} {k}" for k in PUBLISHER_KINDS for w in PUBLISHER_WORDS]
        self.rng.shuffle(names)
        return [(name, self.rng.choice(COUNTRIES)) for name in names[:count]]

    def authors(self, first_id: int, count: int) -> Iterator[tuple]:
        rng = self.rng
        for author_id in range(first_id, first_id + count):
            first, surname = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            born = (
                None
                if rng.random() < 0.1
                else AUTHOR_BORN_FROM + timedelta(rng.randrange(AUTHOR_BORN_DAYS))
            )
            country = rng.choice(COUNTRIES)
            bio = self.bio(f"{first} {surname}", surname, born, country)
            yield (author_id, f"{first} {surname}", bio, born, country)

    def bio(self, name: str, surname: str, born: date | None, country: str) -> str:
        """Three or four sentences about the author: origin, career, subject."""
        rng = self.rng
        origins = BIO_ORIGINS if born else BIO_ORIGINS_UNDATED
        place = with_article(country)
        origin = rng.choice(origins).format(
            name=name, year=born.year if born else "", country=place
        )
        theme = rng.choice(BIO_THEMES)
        sentences = [
            f"{origin} {rng.choice(BIO_PLACES)}."
            if origin.endswith("grew up")
            else f"{origin}.",
            f"Before writing full time, {surname} {rng.choice(BIO_CAREERS)}.",
            f"{surname}'s books keep returning to {theme}.",
        ]
        if rng.random() < 0.6:
            sentences.append(
                rng.choice(BIO_CLOSINGS).format(
                    surname=surname,
                    city=rng.choice(CITIES),
                    languages=rng.randint(3, 30),
                )
            )
        return " ".join(sentences)

    def batch(
        self,
        book_ids: range,
        author_ids: Sequence[int],
        author_weights: Sequence[float],
        publisher_ids: Sequence[int],
        genre_ids: Sequence[int],
        next_review_id: int,
        windows: Mapping[int, tuple[int, int]],
    ) -> Batch:
        """Books (each published within its author's ``windows`` entry: first day
        as an ordinal, number of days), their genre links and reviews."""
        rng = self.rng
        out = Batch()
        authors = rng.choices(author_ids, cum_weights=author_weights, k=len(book_ids))
        for book_id, author_id in zip(book_ids, authors, strict=True):
            title = rng.choice(TITLE_PATTERNS).format(
                adj=rng.choice(ADJECTIVES),
                noun=rng.choice(NOUNS),
                noun2=rng.choice(NOUNS),
                place=with_article(rng.choice(COUNTRIES)),
            )
            first_day, days = windows[author_id]
            published = date.fromordinal(first_day + rng.randrange(days))
            publisher_id = None if rng.random() < 0.08 else rng.choice(publisher_ids)
            stamp = ROW_EPOCH + timedelta(seconds=book_id)
            out.books.append(
                (
                    book_id,
                    title,
                    isbn_for(book_id),
                    author_id,
                    publisher_id,
                    published,
                    rng.randint(80, 1200),
                    Decimal(rng.randint(499, 7999)) / 100,
                    " ".join(rng.sample(SENTENCES, 3)),
                    stamp,
                    stamp,
                )
            )
            for genre_id in rng.sample(genre_ids, rng.choice((1, 1, 2, 2, 2, 3))):
                out.book_genres.append((book_id, genre_id))
            # Skewed popularity: most books get a handful, a few get dozens.
            n_reviews = min(int(rng.expovariate(1 / (REVIEWS_PER_BOOK + 0.5))), 200)
            quality = rng.uniform(1.5, 5.0)
            for _ in range(n_reviews):
                rating = min(5, max(1, round(rng.gauss(quality, 1.0))))
                reviewer = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)[0]}."
                created = REVIEW_EPOCH + timedelta(
                    seconds=rng.randrange(REVIEW_SPAN_SECONDS)
                )
                out.reviews.append(
                    (
                        next_review_id,
                        book_id,
                        reviewer,
                        rating,
                        rng.choice(REVIEW_LINES[rating]),
                        created,
                    )
                )
                next_review_id += 1
        return out


def _write_rows(
    model: type[Model], columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Stream rows into the model's table: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    table = model._meta.db_table
    quote = connection.ops.quote_name
    column_sql = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(
                f"COPY {quote(table)} ({column_sql}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {quote(table)} ({column_sql}) VALUES ({placeholders})",
                rows,
            )


def _next_id(model: type[Model]) -> int:
    last = model._default_manager.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def _reset_sequences(models: Sequence[type[Model]]) -> None:
    """Explicit ids bypass sequences; move them past the rows we wrote."""
    if connection.vendor != "postgresql":
        return  # SQLite's AUTOINCREMENT-free rowid follows max(id) by itself
    with connection.cursor() as cursor:
        for model in models:
            table = model._meta.db_table
            quoted = connection.ops.quote_name(table)
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {quoted}))",
                [table],
            )


def reset() -> None:
    """Delete every row of the domain tables, fast."""
    tables = [
        m._meta.db_table
        for m in (Review, Book.genres.through, Book, Author, Genre, Publisher)
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
            # Deferred FK checks queued in this transaction would block TRUNCATE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
            # Restart AUTOINCREMENT counters, so the same seed gives the same ids.
            placeholders = ", ".join(["%s"] * len(tables))
            cursor.execute(
                f"DELETE FROM sqlite_sequence WHERE name IN ({placeholders})", tables
            )


@dataclass
class SeedResult:
    books: int
    authors: int
    reviews: int
    genre_links: int = 0


def seed(
    *,
    books: int,
    authors: int,
    seed: int,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> SeedResult:
    """Add ``books`` books by ``authors`` new authors, with genres and reviews.

    One transaction; publishers and genres are shared fixtures created once. Every
    book is published between its author's 18th and 90th birthdays (any date from
    1925 when the birth date is unknown). ``progress(table, rows)`` is called as
    rows are written: "authors", "books", "genre links", "reviews".
    """
    report = progress or (lambda table, rows: None)
    gen = Generator(seed)
    reviews_written = links_written = 0
    with transaction.atomic():
        for name, country in gen.publishers(40):
            Publisher.objects.get_or_create(name=name, defaults={"country": country})
        for name in GENRES:
            Genre.objects.get_or_create(name=name, defaults={"slug": slugify(name)})
        publisher_ids = list(
            Publisher.objects.order_by("pk").values_list("pk", flat=True)
        )
        genre_ids = list(Genre.objects.order_by("pk").values_list("pk", flat=True))

        first_author = _next_id(Author)
        author_rows = list(gen.authors(first_author, authors))
        windows = {row[0]: publishing_window(row[3]) for row in author_rows}
        for start in range(0, len(author_rows), batch_size):
            chunk = author_rows[start : start + batch_size]
            _write_rows(Author, ("id", "name", "bio", "born", "country"), chunk)
            report("authors", len(chunk))
        author_ids = [row[0] for row in author_rows]
        # Zipf-like weights: a few prolific authors, a long tail of one-book authors.
        weights, total = [], 0.0
        for rank in range(1, len(author_ids) + 1):
            total += 1 / rank**0.8
            weights.append(total)

        first_book = _next_id(Book)
        next_review = _next_id(Review)
        done = 0
        while done < books:
            size = min(batch_size, books - done)
            ids = range(first_book + done, first_book + done + size)
            batch = gen.batch(
                ids, author_ids, weights, publisher_ids, genre_ids, next_review, windows
            )
            _write_rows(Book, COLUMNS[Book], batch.books)
            report("books", len(batch.books))
            _write_rows(
                Book.genres.through, COLUMNS[Book.genres.through], batch.book_genres
            )
            report("genre links", len(batch.book_genres))
            _write_rows(Review, COLUMNS[Review], batch.reviews)
            report("reviews", len(batch.reviews))
            next_review += len(batch.reviews)
            reviews_written += len(batch.reviews)
            links_written += len(batch.book_genres)
            done += size
        _reset_sequences([Author, Book, Review])
    # The triggers bumped the catalogue version in this transaction (COPY included);
    # publish it now rather than wait for the sync.
    transaction.on_commit(freshness.publish_current)
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in SEEDED)
        with connection.cursor() as cursor:
            # Fresh statistics, or the planner guesses on the first queries. Only the
            # tables written: a bare ANALYZE also walks every system catalogue, which
            # can outlast the statement timeout on a busy server.
            cursor.execute(f"ANALYZE {tables}")
    return SeedResult(
        books=books,
        authors=authors,
        reviews=reviews_written,
        genre_links=links_written,
    )
