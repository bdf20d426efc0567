"""Concurrent writes end as 4xx, never 500 (PostgreSQL: real concurrent sessions)."""

import threading

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from books.models import Book, isbn13_check_digit
from tests.factories import AuthorFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_duplicate_isbn_creates_give_one_201_and_no_500(postgres, editor):
    key = Token.objects.create(user=editor).key
    first12 = "978123456789"
    payload = {
        "title": "Twice",
        "isbn": first12 + isbn13_check_digit(first12),
        "author": AuthorFactory().pk,
        "published": "2020-01-01",
        "pages": 10,
        "price": "1.00",
    }
    start = threading.Barrier(6)
    statuses = []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        start.wait()
        try:
            statuses.append(client.post("/api/books/", payload).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 400, 400, 400, 400, 400]
    assert Book.objects.count() == 1
