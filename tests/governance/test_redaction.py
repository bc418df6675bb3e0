"""Redactor and RedactingFilter: every occurrence of a secret goes, ordinary text stays intact."""

from __future__ import annotations

import copy
import io
import logging
import pickle
from collections.abc import Iterator

import pytest

from greenroom.governance.redaction import (
    MIN_SECRET_LENGTH,
    RedactingFilter,
    Redactor,
    check_secret_value,
    redaction_marker,
)

KEY = "sk-live-4f9a2b7c"
PASSWORD = "hunter2-correct-horse"


# Values: what may be a secret ----------------------------------------------------------------


def test_marker_names_the_secret() -> None:
    assert redaction_marker("api_key") == "[REDACTED:api_key]"
    assert redaction_marker("a", "b") == "[REDACTED:a,b]"


def test_minimum_length_is_eight_characters() -> None:
    assert MIN_SECRET_LENGTH == 8
    assert check_secret_value("x" * 8) is None
    assert check_secret_value("x" * 7) == "is shorter than the minimum of 8 characters"
    assert check_secret_value("abcdefg\0h") == "contains a NUL character"


@pytest.mark.parametrize("value", ["zq", "", "q1w2e3r"])
def test_short_secrets_are_refused_with_the_name_and_never_the_value(value: str) -> None:
    pattern = r"secret 'pin': value is shorter than the minimum of 8"
    with pytest.raises(ValueError, match=pattern) as error:
        Redactor({"pin": value})
    if value:
        assert value not in str(error.value)


def test_a_short_secret_can_never_turn_banana_into_noise() -> None:
    with pytest.raises(ValueError, match="shorter than the minimum"):
        Redactor({"word": "an"})
    redactor = Redactor({"token": KEY})
    assert redactor.redact("banana plan, an answer") == "banana plan, an answer"


def test_characters_are_counted_not_bytes() -> None:
    with pytest.raises(ValueError, match="shorter than the minimum"):
        Redactor({"short": "äöüß"})  # 8 bytes in UTF-8, 4 characters
    with pytest.raises(ValueError, match="shorter than the minimum"):
        Redactor().set("short", [bytearray("äöüß", "utf-8")])
    Redactor({"long": "äöüßäöüß"})


def test_nul_characters_are_refused() -> None:
    with pytest.raises(ValueError, match="secret 'n': value contains a NUL character"):
        Redactor({"n": "abcd\0efgh"})
    with pytest.raises(ValueError, match="NUL"):
        Redactor().set("n", [bytearray(b"abcd\0efgh")])


@pytest.mark.parametrize("name", ["", None, 3])
def test_names_must_be_non_empty_strings(name: object) -> None:
    with pytest.raises(ValueError, match="secret names must be non-empty strings"):
        Redactor().set(name, [KEY])  # type: ignore[arg-type]


def test_values_must_be_str_or_bytearray() -> None:
    with pytest.raises(TypeError, match="secret 'k': values must be str or bytearray, got bytes"):
        Redactor().set("k", [KEY.encode()])  # type: ignore[list-item]


def test_a_refused_update_changes_nothing() -> None:
    redactor = Redactor({"k": KEY})
    with pytest.raises(ValueError, match="shorter"):
        redactor.set("k", ["another-long-value", "short"])
    assert redactor.redact(KEY) == "[REDACTED:k]"
    assert redactor.redact("another-long-value") == "another-long-value"


# Text ----------------------------------------------------------------------------------------


def test_every_occurrence_is_replaced_wherever_it_sits() -> None:
    redactor = Redactor({"api_key": KEY, "db": PASSWORD})
    text = (
        f"Authorization: Bearer {KEY}\n"
        f"url=https://user:{PASSWORD}@db.local/x?token={KEY}&v=1\n"
        f'{{"key":"{KEY}"}}{KEY}{KEY}'
    )
    redacted = redactor.redact(text)
    assert KEY not in redacted
    assert PASSWORD not in redacted
    assert redacted == (
        "Authorization: Bearer [REDACTED:api_key]\n"
        "url=https://user:[REDACTED:db]@db.local/x?token=[REDACTED:api_key]&v=1\n"
        '{"key":"[REDACTED:api_key]"}[REDACTED:api_key][REDACTED:api_key]'
    )


def test_text_without_secrets_is_returned_unchanged() -> None:
    text = "nothing to see here: sk-live-4f9a2b7 (one character short)"
    assert Redactor({"k": KEY}).redact(text) == text
    assert Redactor().redact(text) == text
    assert Redactor({"k": KEY}).redact("") == ""


def test_the_longest_secret_wins_where_one_contains_another() -> None:
    redactor = Redactor({"short": "secret-value", "long": "my-secret-value-2026"})
    assert redactor.redact("a my-secret-value-2026 b") == "a [REDACTED:long] b"
    assert redactor.redact("a secret-value b") == "a [REDACTED:short] b"


def test_partly_overlapping_secrets_are_covered_entirely() -> None:
    redactor = Redactor({"a": "abcdefgh", "b": "ghijklmn"})
    assert redactor.redact("xxabcdefghijklmnyy") == "xx[REDACTED:a,b]yy"


def test_overlapping_occurrences_of_one_secret_leave_no_fragment() -> None:
    redactor = Redactor({"p": "abababab"})
    assert redactor.redact("ababababab!") == "[REDACTED:p]!"
    assert redactor.redact("abababab abababab") == "[REDACTED:p] [REDACTED:p]"


def test_several_values_per_name_all_redacted() -> None:
    redactor = Redactor()
    redactor.set("token", ["first-token-value", "second-token-value"])
    assert redactor.redact("first-token-value / second-token-value") == (
        "[REDACTED:token] / [REDACTED:token]"
    )


def test_unicode_secrets_and_surrounding_text_survive() -> None:
    secret = "pässwörd-ключ-🔑"
    redactor = Redactor({"u": secret})
    text = f"日本語 {secret}… café \ud800 {secret}"
    assert redactor.redact(text) == "日本語 [REDACTED:u]… café \ud800 [REDACTED:u]"


def test_redact_takes_text_only() -> None:
    with pytest.raises(TypeError, match="redact\\(\\) takes a str, got dict; use redact_data"):
        Redactor({"k": KEY}).redact({"a": KEY})  # type: ignore[arg-type]


# Data ----------------------------------------------------------------------------------------


def test_data_is_redacted_recursively_keys_included() -> None:
    redactor = Redactor({"k": KEY})
    data = {
        "message": f"using {KEY}",
        KEY: [KEY, 3, None, True, 1.5, (f"x{KEY}", {"deep": [KEY]})],
        "count": 7,
    }
    before = copy.deepcopy(data)
    redacted = redactor.redact_data(data)
    assert redacted == {
        "message": "using [REDACTED:k]",
        "[REDACTED:k]": [
            "[REDACTED:k]", 3, None, True, 1.5, ("x[REDACTED:k]", {"deep": ["[REDACTED:k]"]}),
        ],
        "count": 7,
    }
    assert data == before


def test_other_objects_are_returned_as_they_are() -> None:
    marker = object()
    assert Redactor({"k": KEY}).redact_data(marker) is marker
    assert Redactor({"k": KEY}).redact_data(b"raw") == b"raw"


# Updates and sharing buffers -----------------------------------------------------------------


def test_names_remove_and_clear() -> None:
    redactor = Redactor({"b": KEY, "a": PASSWORD})
    assert redactor.names == ["a", "b"]
    assert redactor.remove("a") is True
    assert redactor.remove("a") is False
    assert redactor.redact(PASSWORD) == PASSWORD
    redactor.set("b", [])
    assert redactor.names == []
    redactor.set("c", [KEY])
    redactor.clear()
    assert redactor.redact(KEY) == KEY


def test_a_given_bytearray_is_shared_so_its_owner_can_zero_fill_it() -> None:
    buffer = bytearray(KEY, "utf-8")
    redactor = Redactor()
    redactor.set("k", [buffer])
    assert redactor.redact(KEY) == "[REDACTED:k]"
    buffer[:] = bytes(len(buffer))
    nuls = "\0" * len(KEY)
    assert redactor.redact(nuls) == nuls  # a zeroed value matches nothing


def test_values_never_show_and_cannot_be_pickled_or_copied() -> None:
    redactor = Redactor({"k": KEY})
    assert KEY not in repr(redactor)
    assert KEY not in str(redactor)
    assert repr(redactor) == "Redactor(names=['k'])"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(redactor)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.copy(redactor)


# Logging -------------------------------------------------------------------------------------


class _Boom:
    def __str__(self) -> str:
        return f"object holding {KEY}"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, list[logging.LogRecord]]]:
    """A logger whose handler carries the filter; yields it, the text written, the records."""
    stream = io.StringIO()
    records: list[logging.LogRecord] = []

    class Keep(logging.StreamHandler):  # type: ignore[type-arg]
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            super().emit(record)

    handler = Keep(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(Redactor({"api_key": KEY})))
    parent = logging.getLogger("test_redaction_parent")
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    try:
        yield logging.getLogger("test_redaction_parent.child"), stream, records
    finally:
        parent.removeHandler(handler)


def test_log_messages_and_arguments_are_redacted(
    logged: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, stream, records = logged
    logger.info(f"direct {KEY}")
    logger.info("as argument %s", KEY)
    logger.info("split %s%s", KEY[:6], KEY[6:])
    logger.info("object %s and dict %r", _Boom(), {"k": KEY})
    output = stream.getvalue()
    assert KEY not in output
    assert output.splitlines() == [
        "INFO direct [REDACTED:api_key]",
        "INFO as argument [REDACTED:api_key]",
        "INFO split [REDACTED:api_key]",
        "INFO object object holding [REDACTED:api_key] and dict {'k': '[REDACTED:api_key]'}",
    ]
    assert all(record.args is None for record in records)


def test_tracebacks_are_redacted(
    logged: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, stream, records = logged
    try:
        raise RuntimeError(f"login failed with {KEY}")
    except RuntimeError:
        logger.exception("call failed")
    output = stream.getvalue()
    assert KEY not in output
    assert "RuntimeError: login failed with [REDACTED:api_key]" in output
    assert "Traceback (most recent call last)" in output
    assert records[0].exc_info is None


def test_extras_and_stack_info_are_redacted(
    logged: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, _, records = logged
    logger.info("with extras", extra={"token": KEY, "nested": {"list": [KEY]}})
    record = records[0]
    assert record.token == "[REDACTED:api_key]"  # type: ignore[attr-defined]
    assert record.nested == {"list": ["[REDACTED:api_key]"]}  # type: ignore[attr-defined]
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "m", None, None)
    record.stack_info = f"Stack (most recent call last):\n  secret = {KEY!r}"
    assert RedactingFilter(Redactor({"api_key": KEY})).filter(record) is True
    assert record.stack_info == "Stack (most recent call last):\n  secret = '[REDACTED:api_key]'"


def test_an_unformattable_record_is_kept_redacted_without_a_logging_error(
    logged: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger, stream, _ = logged
    logger.info("needs a number %d", KEY)
    output = stream.getvalue()
    assert KEY not in output
    assert output == (
        "INFO needs a number %d (unformattable arguments: ('[REDACTED:api_key]',))\n"
    )
    assert "Logging error" not in capsys.readouterr().err


def test_records_without_secrets_keep_their_text(
    logged: tuple[logging.Logger, io.StringIO, list[logging.LogRecord]],
) -> None:
    logger, stream, _ = logged
    logger.warning("banana plan: %d%% done", 50)
    assert stream.getvalue() == "WARNING banana plan: 50% done\n"
