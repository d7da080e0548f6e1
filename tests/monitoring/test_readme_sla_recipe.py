"""The README's "Set a freshness SLA" recipe: its `monitor:` sections, put into the CRM source of the "Add a
source" recipe and into quality/monitor.yml, validate and give the tables the SLAs it promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lakehouse.settings import PROJECT_DIR, Settings
from quality.monitoring.policy import load_marts_file, table_policies

BLOCK = re.compile(r"```yaml\n# (\S+)\n(.*?)```", re.S)


def _blocks(heading: str) -> dict[str, str]:
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return dict(BLOCK.findall(section))


def test_the_recipe_sets_the_slas_it_promises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = _blocks("### Set a freshness SLA")
    source = yaml.safe_load(_blocks("## Add a source")["ingestion/sources/crm.yml"])
    sla = yaml.safe_load(recipe["ingestion/sources/crm.yml"])
    source["monitor"] = sla["monitor"]
    for name, entity in sla["entities"].items():
        source["entities"][name]["monitor"] = entity["monitor"]
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "crm.yml").write_text(yaml.safe_dump(source))
    (tmp_path / "monitor.yml").write_text(recipe["quality/monitor.yml"])
    monkeypatch.setenv("LAKEHOUSE_SOURCES_DIR", str(tmp_path / "sources"))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))

    assert load_marts_file(tmp_path / "monitor.yml").marts["fct_country_revenue"].freshness_sla_hours == 48
    policies = {
        p.dataset: p for p in table_policies(Settings(), marts=[], marts_file=tmp_path / "monitor.yml")
    }
    assert (
        policies["raw_crm.accounts"].freshness_sla_hours == 30
        and not policies["raw_crm.accounts"].volume.check
    )
    tickets = policies["raw_crm.tickets"]
    assert (
        tickets.freshness_sla_hours == 2
        and tickets.volume.sensitivity == 4
        and tickets.volume.min_history == 21
    )
    assert policies["fct_country_revenue"].freshness_sla_hours == 48
