"""The results contract: docs/results.md and lib/liftlab/results.schema.json say what every
demo results.json holds.

Both are generated from the types of :mod:`liftlab.contract`; these tests fail when either is
stale, when a demo plan's results.json (the three report plans of the session, and
``ad-export`` analysed in process) does not validate against the schema, when it holds a key
docs/results.md does not document, or when its ``schema_version`` is not the documented one.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from liftlab import contract
from liftlab.headline import Headline
from liftlab.plan import BayesianSpec, SequentialSpec
from liftlab.results import SCHEMA_VERSION
from tests.conftest import ROOT
from tests.test_golden import PLANS, demo_results

DOCS = ROOT / "docs" / "results.md"


@pytest.fixture(scope="module")
def results(project: Path, good_run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return demo_results(project, good_run)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(contract.SCHEMA_PATH.read_text(encoding="utf-8"))


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every listed object closed to other keys (the published one is open,
    so that later minor versions validate): a key it does not know becomes an error."""
    out = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(out)
    return out


def errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    found = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    return [f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message[:200]}" for e in found]


def documented(text: str) -> dict[str, set[str]]:
    """docs/results.md's keys: object type (``### Name``) -> the keys of its table."""
    out: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in text.splitlines():
        if line.startswith("### "):
            current = out.setdefault(line[4:].strip(), set())
        elif current is not None and (m := re.match(r"\| `([^`]+)` \|", line)):
            current.add(m.group(1))
    return out


def _fits(value: Any, node: dict[str, Any], defs: dict[str, Any]) -> bool:
    """Whether ``value`` is of the branch ``node`` of an ``anyOf`` (an object type: when it
    has that type's required keys)."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return isinstance(value, dict) and set(target.get("required", [])) <= set(value)
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    kind = kinds.get(type(value), "number")
    return node.get("type") == kind or (kind == "number" and node.get("type") == "integer")


def used_keys(value: Any, node: dict[str, Any], defs: dict[str, Any], name: str) -> set[str]:
    """``Type.key`` for every key of ``value``, its object type read from the schema."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = defs[name]
    if "anyOf" in node:
        branch = next((b for b in node["anyOf"] if _fits(value, b, defs)), None)
        return set() if branch is None else used_keys(value, branch, defs, name)
    out: set[str] = set()
    if isinstance(value, dict) and "properties" in node:
        for k, v in value.items():
            out.add(f"{name}.{k}")
            if k in node["properties"]:
                out |= used_keys(v, node["properties"][k], defs, name)
    elif isinstance(value, dict) and isinstance(node.get("additionalProperties"), dict):
        for v in value.values():
            out |= used_keys(v, node["additionalProperties"], defs, name)
    elif isinstance(value, list):
        items = [node.get("items", {})] * len(value)
        for v, item in zip(value, node.get("prefixItems", items), strict=False):
            out |= used_keys(v, item, defs, name)
    return out


def undocumented(results: dict[str, Any], schema: dict[str, Any], docs: str) -> list[str]:
    known = {f"{name}.{k}" for name, keys in documented(docs).items() for k in keys}
    return sorted(used_keys(results, schema, schema["$defs"], "ResultsFile") - known)


# ---- the committed files are the generated ones -------------------------------------------------
def test_the_committed_schema_is_generated_from_the_types() -> None:
    assert contract.SCHEMA_PATH.read_text(encoding="utf-8") == contract.schema_text(), (
        "lib/liftlab/results.schema.json is stale: run `.venv/bin/python -m liftlab.contract`"
    )


def test_the_key_tables_of_the_docs_are_generated_from_the_types() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert contract.docs_text(text) == text, (
        "docs/results.md's key tables are stale: run `.venv/bin/python -m liftlab.contract`"
    )


def test_the_plan_settings_blocks_list_the_plan_models_fields() -> None:
    assert list(contract.BayesianSettings.__annotations__) == list(BayesianSpec.model_fields)
    assert list(contract.SequentialSettings.__annotations__) == list(SequentialSpec.model_fields)
    assert list(contract.Headline.__annotations__) == [f.name for f in fields(Headline)]


# ---- every demo results.json follows the contract -----------------------------------------------
@pytest.mark.parametrize("plan", PLANS)
def test_demo_results_validate_against_the_schema(
    results: dict[str, dict[str, Any]], schema: dict[str, Any], plan: str
) -> None:
    assert errors(schema, results[plan]) == []
    # and every key it holds is one the schema lists
    assert errors(closed(schema), results[plan])[:5] == []


@pytest.mark.parametrize("plan", PLANS)
def test_demo_results_carry_the_documented_schema_version(
    results: dict[str, dict[str, Any]], schema: dict[str, Any], plan: str
) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert results[plan]["schema_version"] == SCHEMA_VERSION == schema["x-schema-version"]
    assert f"(today `{SCHEMA_VERSION}`" in docs
    assert f"- **{SCHEMA_VERSION}**:" in docs.split("## Changelog", 1)[1]


@pytest.mark.parametrize("plan", PLANS)
def test_every_key_of_the_demo_results_is_documented(
    results: dict[str, dict[str, Any]], schema: dict[str, Any], plan: str
) -> None:
    missing = undocumented(results[plan], schema, DOCS.read_text(encoding="utf-8"))
    assert missing == [], (
        f"keys in {plan}'s results.json that docs/results.md does not document: "
        f"{missing[:10]}; add them to lib/liftlab/contract.py, bump the minor version and run "
        "`.venv/bin/python -m liftlab.contract`"
    )


# ---- the checks catch what they are for ---------------------------------------------------------
def test_an_added_key_is_caught_as_undocumented_and_unknown(
    results: dict[str, dict[str, Any]], schema: dict[str, Any]
) -> None:
    changed = copy.deepcopy(results["pricing-three-tiers"])
    changed["metrics"][0]["comparisons"][0]["bootstrap"]["new_key"] = 1.0
    changed["pricing"]["demand"]["new_key"] = 1.0
    docs = DOCS.read_text(encoding="utf-8")
    assert undocumented(changed, schema, docs) == ["Bootstrap.new_key", "Demand.new_key"]
    assert errors(schema, changed) == []  # the published schema is open to additions
    assert len(errors(closed(schema), changed)) == 2


def test_the_schema_rejects_a_wrong_type_a_missing_key_and_an_unknown_value(
    results: dict[str, dict[str, Any]], schema: dict[str, Any]
) -> None:
    changed = copy.deepcopy(results["landing-headline"])
    changed["metrics"][0]["comparisons"][0]["p_value"] = "0.01"
    del changed["srm"]["counts"]
    changed["decision"]["recommendation"] = "launch"
    changed["schema_version"] = "2.0"
    found = errors(schema, changed)
    assert [e.split(":")[0] for e in found] == [
        "decision/recommendation",
        "metrics/0/comparisons/0/p_value",
        "schema_version",
        "srm",
    ]
