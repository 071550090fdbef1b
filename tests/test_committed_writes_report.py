"""A write that committed reports success, whatever the old rows held.

Old rows with absurd next_run_time columns (1e300, beyond year 9999) once turned a
finished reload into exit 5 after the store was replaced and the backup written, hiding
the backup's path. Notes worked out after the commit can no longer fail the command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Invoke, StockStore

TASKS = """
default_tasks:
  - id: fresh
    function: tests.jobs:noop
    trigger_type: interval
    trigger_params: {minutes: 5}
"""


@pytest.mark.parametrize("column", [1e300, -1e300, 253402300800.0])
def test_reload_over_rows_with_absurd_next_run_times_reports_success(
    cli: Invoke, stock: StockStore, tmp_path: Path, column: float
) -> None:
    stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="far"))
    table, engine = stock.table_obj(), stock.engine()
    with engine.begin() as conn:  # the only old row: a scheduler would "wake" at `column`
        conn.execute(table.update().values(next_run_time=column))
    engine.dispose()
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(TASKS)

    result = cli(
        "--tasks", str(tasks), "reload", "--yes", "--backup-dir", str(tmp_path / "bk"),
        "-o", "json", url=stock.url,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["reloaded"] == ["fresh"]
    assert document["deleted"] == ["far"]
    backup = Path(document["backup_path"])
    [row] = json.loads(backup.read_text())["rows"]
    assert (row["id"], row["next_run_time"]) == ("far", column)
    assert sorted(stock.raw()) == ["fresh"]
