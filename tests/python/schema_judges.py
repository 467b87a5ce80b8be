"""Judges tool schemas with validators nobody in this project wrote.

Usage: python schema_judges.py < INPUT

INPUT is a JSON object: {"tools": [TOOL, ...]}, each TOOL
  {"name": N,
   "mcp": the MCP inputSchema,
   "openai": the OpenAI function tool ({"type", "name", "description", "parameters", "strict"}),
   "anthropic": the Anthropic tool ({"name", "description", "input_schema", "strict"?}),
   "mistral": the Mistral tool ({"type", "function": {...}}),
   "gemini": the Gemini function declaration ({"name", "description", "parameters"?}),
   "instances": [arguments, ...]}

Prints one JSON object: {"versions": {...}, "tools": {N: VERDICT}}, each VERDICT
  {"mcp_schema": [errors of Draft202012Validator.check_schema],
   "accepts": [whether the MCP inputSchema accepts each instance, in order],
   "openai": "strict, unchanged" | "strict, changed: ..." | "strict, raised: ..." | "not strict",
   "anthropic_schema": [errors], "anthropic": as "openai" for its `input_schema`,
   "mistral_schema": [errors],
   "gemini": "accepted" | "refused: ..."}

The judges:
- jsonschema's Draft202012Validator: check_schema on each JSON Schema, is_valid per instance;
- openai-agents' ensure_strict_json_schema on a copy of each definition marked strict: it must
  come back equal (a strict definition needs no fixing) and not raise;
- google-genai's types.FunctionDeclaration (and types.Tool around it): the pydantic models the
  Gemini SDK sends requests with, which refuse keys outside Gemini's schema subset.
"""

import copy
import json
import sys
from importlib.metadata import version

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from agents.strict_schema import ensure_strict_json_schema
from google.genai import types


def schema_errors(schema):
    try:
        Draft202012Validator.check_schema(schema)
        return []
    except SchemaError as err:
        return [f"{err.message} at {list(err.absolute_path)}"]


def strict_verdict(schema, strict):
    if not strict:
        return "not strict"
    try:
        fixed = ensure_strict_json_schema(copy.deepcopy(schema))
    except Exception as err:  # the judge's own refusal, whatever its type
        return f"strict, raised: {type(err).__name__}: {err}"
    if fixed != schema:
        return "strict, changed: " + json.dumps(fixed, sort_keys=True)
    return "strict, unchanged"


def gemini_verdict(declaration):
    try:
        parsed = types.FunctionDeclaration.model_validate(declaration)
        types.Tool(function_declarations=[parsed])
        return "accepted"
    except Exception as err:
        return f"refused: {err}"


def judge(tool):
    mcp = tool["mcp"]
    errors = schema_errors(mcp)
    accepts = []
    if not errors:
        validator = Draft202012Validator(mcp)
        accepts = [validator.is_valid(instance) for instance in tool["instances"]]
    openai = tool["openai"]
    anthropic = tool["anthropic"]
    return {
        "mcp_schema": errors,
        "accepts": accepts,
        "openai": strict_verdict(openai["parameters"], openai.get("strict") is True),
        "openai_schema": schema_errors(openai["parameters"]),
        "anthropic_schema": schema_errors(anthropic["input_schema"]),
        "anthropic": strict_verdict(anthropic["input_schema"], anthropic.get("strict") is True),
        "mistral_schema": schema_errors(tool["mistral"]["function"]["parameters"]),
        "gemini": gemini_verdict(tool["gemini"]),
    }


def main():
    given = json.load(sys.stdin)
    verdicts = {tool["name"]: judge(tool) for tool in given["tools"]}
    versions = {p: version(p) for p in ["jsonschema", "openai-agents", "google-genai"]}
    json.dump({"versions": versions, "tools": verdicts}, sys.stdout)


if __name__ == "__main__":
    main()
