"""factory_boy factories for the domain models."""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from books.models import Author, Book, Genre, Publisher, Review
from books.seeding import isbn_for


class PublisherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Publisher
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Publisher {n}")
    country = "Norway"


class GenreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Genre
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Genre {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))


class AuthorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Author

    name = factory.Faker("name")
    bio = factory.Faker("paragraph")
    born = factory.Faker("date_between", start_date="-90y", end_date="-20y")
    country = factory.Faker("country")


class BookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Book
        skip_postgeneration_save = True

    title = factory.Faker("sentence", nb_words=3)
    # A high offset keeps factory ISBNs clear of seeded ones (both derive from ids).
    isbn = factory.Sequence(lambda n: isbn_for(900_000_000 + n))
    author = factory.SubFactory(AuthorFactory)
    publisher = factory.SubFactory(PublisherFactory)
    published = factory.Sequence(
        lambda n: datetime.date(2000, 1, 1) + datetime.timedelta(n)
    )
    pages = 320
    price = Decimal("12.99")
    description = factory.Faker("paragraph")

    @factory.post_generation
    def genres(self, create: bool, extracted: list[Genre] | None, **kwargs) -> None:
        if create and extracted:
            self.genres.set(extracted)


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    book = factory.SubFactory(BookFactory)
    reviewer = factory.Faker("name")
    rating = 4
    body = factory.Faker("sentence")
    created = factory.LazyFunction(timezone.now)
