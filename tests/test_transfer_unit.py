"""`pshctl cp`'s pure part: which side is a container, and which way the copy goes."""

from __future__ import annotations

import pytest

from pshctl.errors import NameNotFound, UsageError
from pshctl.transfer import CopyResult, Location, parse_location, plan

WORKERS = ["queue", "mail"]


@pytest.mark.parametrize(("text", "location"), [
    ("queue:/app/var/x", Location("/app/var/x", "queue")),
    ("queue:var/x", Location("var/x", "queue")),
    ("queue:", Location("", "queue")),
    ("shop:/app/.env", Location("/app/.env", "shop")),  # the app's name: its web container
    ("dump.sql", Location("dump.sql")),
    ("./queue:x", Location("./queue:x")),
    ("/tmp/a:b", Location("/tmp/a:b")),
    (":x", Location(":x")),
])
def test_locations(text: str, location: Location) -> None:
    assert parse_location(text, WORKERS, "shop") == location


def test_an_unknown_name_before_a_colon_is_a_name_error_never_a_file() -> None:
    with pytest.raises(NameNotFound) as caught:
        parse_location("queu:/tmp/x", WORKERS, "shop")
    assert "queue" in str(caught.value) + (caught.value.hint or "")
    assert "./queu:/tmp/x" in (caught.value.hint or "")


def test_a_copy_goes_one_way_between_here_and_one_container() -> None:
    assert plan(Location("a"), Location("/b", "queue")) == ("upload", "queue")
    assert plan(Location("/b", "mail"), Location(".")) == ("download", "mail")
    with pytest.raises(UsageError, match="one container"):
        plan(Location("/a", "queue"), Location("/b", "mail"))
    with pytest.raises(UsageError, match="neither side"):
        plan(Location("a"), Location("b"))


def test_a_location_prints_as_written() -> None:
    assert str(Location("/x", "queue")) == "queue:/x" and str(Location("y")) == "y"


def test_the_json_form_uses_the_api_field_names() -> None:
    result = CopyResult("upload", "queue", "a", "queue:/b/a", 10, 0.12345)
    assert result.to_dict() == {"direction": "upload", "worker": "queue", "source": "a",
                                "destination": "queue:/b/a", "size_bytes": 10,
                                "elapsed_s": 0.123}
