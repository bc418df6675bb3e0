"""NATS-style topic patterns: matching rules and precise rejection of bad patterns."""

from __future__ import annotations

import re

import pytest

from greenroom.triggers.topics import TopicPattern, topic_matches, validate_topic


@pytest.mark.parametrize(
    ("pattern", "topic"),
    [
        ("pipeline.alerts", "pipeline.alerts"),
        ("pipeline.*", "pipeline.alerts"),
        ("*.alerts", "pipeline.alerts"),
        ("*", "pipeline"),
        ("pipeline.*.db", "pipeline.alerts.db"),
        ("pipeline.>", "pipeline.alerts"),
        ("pipeline.>", "pipeline.alerts.db.primary"),
        (">", "anything"),
        (">", "any.thing.at.all"),
        ("*.>", "a.b"),
    ],
)
def test_pattern_selects_topic(pattern: str, topic: str) -> None:
    assert topic_matches(pattern, topic)
    assert TopicPattern(pattern).matches(topic)


@pytest.mark.parametrize(
    ("pattern", "topic"),
    [
        ("pipeline.alerts", "pipeline.alert"),
        ("pipeline.*", "pipeline"),
        ("pipeline.*", "pipeline.alerts.db"),
        ("pipeline.>", "pipeline"),
        ("*", "a.b"),
        ("*.>", "a"),
        ("a.b", "a.b.c"),
        ("Pipeline.*", "pipeline.x"),
    ],
)
def test_pattern_rejects_topic(pattern: str, topic: str) -> None:
    assert not topic_matches(pattern, topic)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "empty token"),
        ("a..b", "empty token"),
        (".a", "empty token"),
        ("a.", "empty token"),
        ("a.>.b", "'>' may only be the last token"),
        ("a*", "wildcard inside token 'a*'"),
        ("a.b*.c", "wildcard inside token 'b*'"),
        ("a.>x", "wildcard inside token '>x'"),
        ("a b", "whitespace"),
    ],
)
def test_invalid_pattern_is_rejected_naming_it(pattern: str, reason: str) -> None:
    expected = re.escape(f"invalid pattern {pattern!r}: ") + ".*" + re.escape(reason)
    with pytest.raises(ValueError, match=expected):
        TopicPattern(pattern)
    with pytest.raises(ValueError, match="invalid pattern"):
        topic_matches(pattern, "a.b")


@pytest.mark.parametrize("topic", ["a.*", "a.>", "", "a..b", "a b"])
def test_invalid_topic_is_rejected_naming_it(topic: str) -> None:
    expected = re.escape(f"invalid topic {topic!r}")
    with pytest.raises(ValueError, match=expected):
        validate_topic(topic)
    with pytest.raises(ValueError, match=expected):
        TopicPattern("a.>").matches(topic)


def test_non_string_pattern_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="pattern must be a string, got int"):
        topic_matches(3, "a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="topic must be a string, got NoneType"):
        validate_topic(None)  # type: ignore[arg-type]


def test_validate_topic_returns_the_topic() -> None:
    assert validate_topic("pipeline.alerts.db") == "pipeline.alerts.db"


def test_is_literal() -> None:
    assert TopicPattern("a.b").is_literal
    assert not TopicPattern("a.*").is_literal
    assert not TopicPattern("a.>").is_literal


def test_compiled_patterns_compare_by_text() -> None:
    assert TopicPattern("a.*") == TopicPattern("a.*")
    assert TopicPattern("a.*") != TopicPattern("a.>")
    assert len({TopicPattern("a.*"), TopicPattern("a.*")}) == 1
    assert repr(TopicPattern("a.*")) == "TopicPattern('a.*')"
    assert TopicPattern("a.*").pattern == "a.*"


@pytest.mark.parametrize("pattern", ["a.#", "#", "a.+.b"])
def test_mqtt_and_amqp_wildcards_are_refused_with_a_hint(pattern: str) -> None:
    with pytest.raises(ValueError, match="MQTT/AMQP wildcard; use '\\*' for one token"):
        TopicPattern(pattern)
