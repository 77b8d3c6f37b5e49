"""S3 backup freshness, `newest_object`: is the backup running? Against moto's S3 server,
objects written by the test; their age comes from the store's LastModified."""

from __future__ import annotations

import time

import pytest

from probes.kinds import s3, s3_probe
from probes.outcomes import ErrorClass, Result
from tests.conftest import entry_problems
from tests.probes.kinds.test_s3 import CREDENTIALS, Moto, moto, probe, steps  # noqa: F401

pytestmark = pytest.mark.no_database

BACKUPS = "sea-backups"


@pytest.fixture(scope="module")
def backups(moto: Moto) -> str:  # noqa: F811 - the fixture
    """A bucket with five backups under backups/ (and a stray key elsewhere)."""
    admin = moto.admin()
    admin.create_bucket(Bucket=BACKUPS)
    for n in range(5):
        admin.put_object(Bucket=BACKUPS, Key=f"backups/db-{n}.dump", Body=b"x")
    admin.put_object(Bucket=BACKUPS, Key="logs/today.log", Body=b"y")
    return BACKUPS


def newest(moto: Moto, **fields: object) -> dict:  # noqa: F811
    declared = {"prefix": "backups/", "max_age": 3600.0, "stale_is": "degraded", "max_pages": 10}
    return {
        "bucket": BACKUPS,
        "endpoint_url": moto.url,
        **CREDENTIALS,
        "newest_object": declared | fields,
    }


def test_a_recent_backup_is_up_with_its_age(moto: Moto, backups: str) -> None:  # noqa: F811
    outcome = probe(newest(moto), moto.prober.environ)
    assert outcome.result is Result.SUCCESS, outcome.error
    assert outcome.observations["objects_listed"] == 5  # under the prefix only
    assert 0 <= outcome.observations["newest_object_age_seconds"] < 600
    assert outcome.observations["newest_object_modified"].endswith("Z")
    assert steps(outcome) == [("ListObjectsV2", True)]  # the listing is the S3 proof too


def test_a_backup_older_than_max_age_is_degraded_or_down_as_declared(
    moto: Moto,  # noqa: F811
    backups: str,
) -> None:
    time.sleep(1.1)  # the newest is now over a second old
    degraded = probe(newest(moto, max_age=1.0), moto.prober.environ)
    assert degraded.result is Result.DEGRADED
    [warning] = degraded.warnings
    assert warning.startswith("stale: the newest object under 'backups/' is ")
    assert warning.endswith(" old, over max_age 1s")

    down = probe(newest(moto, max_age=1.0, stale_is="down"), moto.prober.environ)
    assert down.error_class is ErrorClass.UNEXPECTED_RESPONSE
    assert down.detail == warning
    assert down.observations["objects_listed"] == 5


def test_no_object_under_the_prefix_is_said(moto: Moto, backups: str) -> None:  # noqa: F811
    outcome = probe(newest(moto, prefix="nightly/"), moto.prober.environ)
    assert outcome.warnings == ("no object under 'nightly/'",)
    assert outcome.observations["objects_listed"] == 0


def test_every_page_is_read_up_to_max_pages(
    moto: Moto,  # noqa: F811
    backups: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(s3_probe, "PAGE_SIZE", 2)  # five keys: three pages

    whole = probe(newest(moto, max_pages=3), moto.prober.environ)
    assert whole.result is Result.SUCCESS, whole.error
    assert whole.observations["objects_listed"] == 5
    assert [name for name, _ in steps(whole)] == [
        "ListObjectsV2",
        "ListObjectsV2 page 2",
        "ListObjectsV2 page 3",
    ]

    time.sleep(1.1)
    cut = probe(newest(moto, max_pages=2, max_age=1.0), moto.prober.environ)
    assert cut.observations["objects_listed"] == 4
    [warning] = cut.warnings
    assert warning.endswith("over max_age 1s (of the first 4 keys: raise max_pages to list more)")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ("newest_object: {prefix: backups/}", "max_age: required"),
        ("newest_object: {max_age: soon}", "max_age: 'soon' is not a duration"),
        ("newest_object: {max_age: 26h, stale_is: up}", "stale_is: 'up' is not"),
        ("newest_object: {max_age: 26h, max_pages: 0}", "max_pages: must be at"),
        ("newest_object: {max_age: 26h, prefx: a/}", "prefx: unknown field"),
        ("newest_object: 26h", "newest_object: expected a mapping"),
    ],
)
def test_a_bad_newest_object_names_its_field(fields: str, problem: str) -> None:
    problems = entry_problems(f"name: docs, kind: s3, bucket: docs, {fields}")
    assert any(p.startswith(problem) for p in problems), problems


def test_declared_it_is_read_with_its_defaults_and_described() -> None:
    assert entry_problems("name: d, kind: s3, bucket: docs, newest_object: {max_age: 26h}") == []
    spec = s3.Spec(
        bucket="docs",
        newest_object={
            "prefix": "backups/",
            "max_age": 93600.0,
            "stale_is": "down",
            "max_pages": 10,
        },
    )
    assert s3.describe(spec) == "s3://docs (newest object under 'backups/' within 26h)"
