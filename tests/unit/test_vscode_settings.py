"""The VS Code extension's settings are generated from the config schema: fail on drift."""

from __future__ import annotations

import json
import subprocess

from aicockpit.config import json_schema
from tests.support import ROOT

EXTENSION = ROOT / "client-vscode"


def test_package_json_settings_match_the_server_schema():
    result = subprocess.run(
        ["node", str(EXTENSION / "scripts" / "generate-settings.mjs"), "--check", "--schema", "-"],
        input=json.dumps(json_schema()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_every_server_field_is_a_setting():
    """Independent of the generator: each leaf of the schema has a setting with its default."""
    schema = json_schema()
    defs = schema["$defs"]
    manifest = json.loads((EXTENSION / "package.json").read_text())
    settings = {
        key: value
        for category in manifest["contributes"]["configuration"]
        for key, value in category["properties"].items()
    }

    def struct(node: dict) -> dict | None:
        node = defs[node["$ref"].split("/")[-1]] if "$ref" in node else node
        return node if node.get("type") == "object" and node.get("additionalProperties") is False else None

    def check(node: dict, prefix: str) -> int:
        count = 0
        for name, field in node["properties"].items():
            key = f"{prefix}.{name}"
            if (inner := struct(field)) is not None:
                count += check(inner, key)
                continue
            assert key in settings, f"{key} missing from client-vscode/package.json"
            if "default" in field:
                assert settings[key]["default"] == field["default"], key
            count += 1
        return count

    assert check(struct(schema), "aicockpit") >= 20
