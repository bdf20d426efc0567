"""The orjson renderer: DRF's JSON, including what orjson refuses by default."""

from api.renderers import ORJSONRenderer


def test_integer_keys_render_like_drfs_json_renderer():
    """DRF's list fields report errors per index ({0: [...]}); orjson alone would
    raise TypeError there, a 500 in place of the 400."""
    rendered = ORJSONRenderer().render({"genres": {0: ["Bad."]}, "id": 1})
    assert rendered == b'{"genres":{"0":["Bad."]},"id":1}'
