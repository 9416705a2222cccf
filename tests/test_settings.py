"""One settings model: defaults in one place, strict validation, one document for every service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub import settings
from hub.billing import prices
from hub.masking.sample import SampleLimits
from hub.production.rules import ProductionRules
from hub.review.checks import Limits
from hub.review.lifecycle import Policy

CHECKOUT = Path(__file__).resolve().parents[1]


def test_when_nothing_is_configured_then_every_rule_set_has_its_defaults():
    s = settings.build()
    assert s == settings.Settings() == settings.load({})
    assert s.sample_limits == SampleLimits(max_rows=10_000, max_fraction=0.05, k=5)
    assert s.review_rules.policy == Policy(two_person_level=3)
    assert s.review_rules.checks.min_count == 10 and s.review_rules.checks.quasi_k == 5
    assert s.production_rules.auto_approve == ("public-governance",)
    assert s.price_book.industry.export == 50.0 and s.price_book.public_governance.export == 0
    assert prices.book(s.price_book).rate("industry", "job_cpu_hour") == 2


def test_when_the_old_names_are_imported_then_they_are_the_settings_models():
    assert SampleLimits is settings.SampleLimits and Limits is settings.Limits
    assert Policy is settings.Policy and ProductionRules is settings.ProductionRules


def test_when_settings_are_built_then_they_survive_the_document_round_trip():
    built = settings.build(
        sample_limits={"max_rows": 50, "max_fraction": 1.0, "k": 1},
        review_rules={"policy": {"two_person_level": 4}, "checks": {"min_count": 20}},
        production_rules={"auto_approve": [], "mia_max_auc": 0.7},
        price_book={"public-governance": settings.Prices().industry.model_dump()},
    )
    doc = settings.document(built)
    assert json.loads(doc)["price_book"]["public-governance"]["export"] == 50.0
    assert settings.load({settings.ENV: doc}) == built
    assert built.production_rules.auto_approve == ()


@pytest.mark.parametrize(
    "config, named",
    [
        ({"sample_limit": {}}, "unknown setting sample_limit in settings"),
        ({"review_rules": {"min_count": 3}}, "unknown setting min_count in review_rules"),
        (
            {"review_rules": {"checks": {"min_cout": 3}}},
            "unknown setting min_cout in review_rules.checks",
        ),
        ({"price_book": {"industry": {"exports": 1}}}, "unknown setting exports in price_book"),
    ],
    ids=["top level", "section", "nested section", "price item"],
)
def test_when_a_key_is_unknown_then_it_is_refused_with_its_name(config, named):
    with pytest.raises(settings.SettingsError, match=named):
        settings.build(**config)


@pytest.mark.parametrize(
    "config, named",
    [
        ({"sample_limits": {"max_rows": "10"}}, "max_rows in sample_limits"),
        ({"sample_limits": {"max_rows": True}}, "max_rows in sample_limits"),
        ({"production_rules": {"max_cpus": "2"}}, "max_cpus in production_rules"),
        ({"review_rules": {"checks": {"dominance_n": 3}}}, "dominance_n in review_rules.checks"),
        ({"price_book": {"industry": {"export": -1}}}, "export in price_book.industry"),
    ],
    ids=["string for int", "bool for int", "string for float", "out of range", "negative price"],
)
def test_when_a_value_has_the_wrong_type_or_range_then_it_is_refused(config, named):
    with pytest.raises(settings.SettingsError, match=named) as caught:
        settings.build(**config)
    assert "bad value for" in str(caught.value)


def test_when_a_refusal_is_shown_then_it_is_bilingual_and_has_no_pydantic_internals():
    with pytest.raises(settings.SettingsError) as caught:
        settings.build(review_rules={"checks": {"min_cout": 3}})
    msg = caught.value.msg
    assert msg.zh == "设置有误：review_rules.checks 中的 min_cout 是未知设置"
    assert msg.en == "invalid settings: unknown setting min_cout in review_rules.checks"
    assert str(caught.value) == f"{msg.zh} / {msg.en}"
    assert "pydantic" not in str(caught.value) and caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_when_the_document_is_not_json_then_load_refuses_it_in_both_languages():
    with pytest.raises(settings.SettingsError, match="不是有效的 JSON"):
        settings.load({settings.ENV: "{not json"})


def test_when_someone_mutates_the_settings_then_the_frozen_model_refuses():
    s = settings.build()
    with pytest.raises(ValidationError):
        s.sample_limits = SampleLimits(k=2)  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.review_rules.checks.min_count = 1  # type: ignore[misc]


def _load_config(config: Path, home: Path) -> subprocess.CompletedProcess:
    code = (
        "import json, sys\n"
        "from traitlets.config.loader import PyFileConfigLoader\n"
        f"c = PyFileConfigLoader({config.name!r}, path={str(config.parent)!r}).load_config()\n"
        "json.dump({s['name']: s['environment'] for s in c.JupyterHub.services}, sys.stdout)\n"
    )
    env = {**os.environ, "SHUYU_HOME": str(home), "SHUYU_SPAWNER": "simple"}
    env.pop(settings.ENV, None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=CHECKOUT, env=env, capture_output=True, text=True
    )


def test_when_the_config_file_loads_then_each_rule_service_gets_the_one_document(tmp_path):
    done = _load_config(CHECKOUT / "jupyterhub_config.py", tmp_path)
    assert done.returncode == 0, done.stderr
    envs = json.loads(done.stdout)
    docs = {envs[name][settings.ENV] for name in ("gateway", "production", "admin")}
    assert len(docs) == 1
    assert isinstance(settings.load({settings.ENV: docs.pop()}), settings.Settings)
    assert not any(k.startswith(("SHUYU_SAMPLE_", "SHUYU_PRICE")) for k in envs["gateway"])
    assert not (tmp_path / "price_book.json").exists()  # the CLI reads the same document


def test_when_the_config_file_has_a_typo_then_the_hub_stops_with_its_name(tmp_path):
    text = (CHECKOUT / "jupyterhub_config.py").read_text()
    assert '"min_count": 10' in text
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(text.replace('"min_count": 10', '"min_cout": 10'))
    done = _load_config(config, tmp_path / "home")
    assert done.returncode == 1
    assert "unknown setting min_cout in review_rules.checks" in done.stderr
    assert "未知设置" in done.stderr and "Traceback" not in done.stderr
