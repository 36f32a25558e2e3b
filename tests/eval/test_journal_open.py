"""Opening a journal: a damaged file is refused by name and left alone; a second open of the same
journal is refused while the first holds it."""

from __future__ import annotations

import pytest

from forage.core.errors import CorruptFile, FolderInUse
from forage.eval.journal import Journal

from .helpers import result
from .test_journal import config


def test_a_journal_that_is_not_a_database_is_refused_by_name_and_untouched(tmp_path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"definitely not sqlite" * 300)
    with pytest.raises(CorruptFile) as err:
        Journal.open(path, config())
    message = str(err.value)
    assert str(path) in message and "damaged" in message and "move it aside" in message
    assert "\n" not in message
    assert path.read_bytes() == b"definitely not sqlite" * 300
    # the failed open released the folder's lock
    path.unlink()
    Journal.open(path, config()).close()


def test_a_row_that_does_not_decode_is_a_corrupt_journal_naming_the_row(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal.open(path, config()) as j:
        j.record(result())
        j._db.execute("UPDATE results SET result = '{truncated'")
    with Journal.open(path, config()) as j:
        with pytest.raises(CorruptFile, match="row 1 is not a result"):
            list(j.results())


def test_a_journal_is_held_by_one_sweep_at_a_time(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal.open(path, config()):
        with pytest.raises(FolderInUse, match="in use by another forage process"):
            Journal.open(path, config())
    Journal.open(path, config()).close()
