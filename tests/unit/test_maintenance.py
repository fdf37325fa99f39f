"""Maintenance mode's pure parts: the include nginx loads and the --message it accepts."""
from __future__ import annotations

import json
import re

import pytest

from swiftlib.errors import UsageError
from swiftlib.lifecycle.maintenance import MESSAGE_LIMIT, check_message, include_text
from swiftlib.observe.status import format_frame


def body_of(include: str) -> dict:
    found = re.search(r"^return 503 '(.*)';$", include, re.M)
    assert found, include
    return json.loads(found.group(1).replace("\\'", "'").replace("\\\\", "\\"))


def test_the_include_answers_503_with_a_json_body_and_retry_after():
    text = include_text("ops@example.com", "back at 10:00")
    assert "add_header Retry-After 300 always;" in text and "add_header X-Deployed-By swiftdeploy always;" in text
    assert body_of(text) == {"error": "maintenance", "code": 503, "service": "swiftdeploy",
                             "message": "back at 10:00", "contact": "ops@example.com"}
    assert body_of(include_text("ops@example.com", ""))["message"] == "down for maintenance"


@pytest.mark.parametrize("message", ["it's 'quoted'", 'a "double" \\ backslash', "ünïcödé ✓", "a; b { c }"])
def test_any_printable_message_stays_inside_the_nginx_string(message):
    text = include_text("ops@example.com", check_message(message))
    assert text.count("\n") == 4  # nothing broke out onto a line of its own
    assert body_of(text)["message"] == message


@pytest.mark.parametrize("message, error", [
    ("costs $5", "'$' is not allowed"),
    ("two\nlines", "printable characters on one line"),
    ("bell\x07", "printable characters on one line"),
    ("x" * (MESSAGE_LIMIT + 1), f"at most {MESSAGE_LIMIT} characters"),
])
def test_a_message_nginx_could_misread_is_refused(message, error):
    with pytest.raises(UsageError, match=re.escape(error)):
        check_message(message)


def test_status_shows_maintenance_only_while_it_is_on():
    frame = {"timestamp": "t", "host": "local", "mode": "stable", "version": "1.0.0", "split": {"stable": 100},
             "tracks": {}, "engine": "embedded", "policies": [], "maintenance": None}
    assert "maintenance" not in format_frame(frame)
    frame["maintenance"] = {"message": "m", "since": "s", "text": "ON since s: the public port answers 503 (m)"}
    assert "maintenance  ON since s: the public port answers 503 (m)" in format_frame(frame)
