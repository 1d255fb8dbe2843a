import { describe, expect, it } from "vitest";
import { clientSettings, resolveLaunch, serverSettings, CLIENT_DEFAULTS } from "../src/settings";
import { configurationFromSchema } from "../scripts/settings.mjs";

describe("serverSettings", () => {
  it("drops the client section and functions", () => {
    const all = { client: { pythonPath: "/x" }, completion: { max_tokens: 8 }, get: () => 1 };
    expect(serverSettings(all)).toEqual({ completion: { max_tokens: 8 } });
  });
});

describe("clientSettings", () => {
  it("falls back to defaults on wrong types", () => {
    expect(clientSettings({ client: { serverCommand: "aicockpit", serverArgs: [1], statsIntervalMs: "x" } })).toEqual(
      CLIENT_DEFAULTS,
    );
    expect(clientSettings({ client: { statsIntervalMs: 10, serverEnv: { A: "1", B: 2 } } })).toMatchObject({
      statsIntervalMs: 250,
      serverEnv: { A: "1" },
    });
  });
});

describe("resolveLaunch", () => {
  const hints = { workspaceFolders: ["/ws"], exists: () => false, platform: "linux" as const };
  const settings = (patch: object) => ({ ...CLIENT_DEFAULTS, ...patch });

  it("prefers the explicit command, with the extra args after it", () => {
    const launch = resolveLaunch(settings({ serverCommand: ["/bin/ac", "serve"], serverArgs: ["--model", "m"] }), hints);
    expect(launch).toMatchObject({ command: "/bin/ac", args: ["serve", "--model", "m"] });
  });
  it("runs the module with the configured python", () => {
    expect(resolveLaunch(settings({ pythonPath: "/py" }), hints)).toMatchObject({
      command: "/py",
      args: ["-m", "aicockpit", "serve"],
    });
  });
  it("finds the workspace .venv, then the Python extension's interpreter, then PATH", () => {
    const venv = resolveLaunch(settings({}), { ...hints, exists: (p: string) => p === "/ws/.venv/bin/aicockpit" });
    expect(venv).toMatchObject({ command: "/ws/.venv/bin/aicockpit", args: ["serve"] });
    expect(resolveLaunch(settings({}), { ...hints, pythonInterpreter: "/env/bin/python" }).command).toBe("/env/bin/python");
    expect(resolveLaunch(settings({}), { ...hints, pythonInterpreter: "python" })).toMatchObject({
      command: "aicockpit",
      args: ["serve"],
    });
  });
});

describe("configurationFromSchema", () => {
  const schema = {
    $ref: "#/$defs/Root",
    $defs: {
      Root: {
        type: "object",
        description: "root",
        properties: { engine: { $ref: "#/$defs/Engine" }, extra: { type: "object", additionalProperties: { $ref: "#/$defs/Profile" } } },
        additionalProperties: false,
      },
      Engine: {
        title: "Engine",
        description: "The engine.",
        type: "object",
        properties: {
          model: { type: "string", description: "Model.", default: "m" },
          tokenizer: { anyOf: [{ type: "string" }, { type: "null" }], default: null, description: "Tok." },
          mode: { enum: ["a", "b"], default: "a", description: "Mode." },
          size: { type: "integer", minimum: 1, default: 2, description: "Size." },
        },
        additionalProperties: false,
      },
      Profile: { type: "object", properties: { model: { type: "string" } }, additionalProperties: false, title: "Profile" },
    },
  };

  it("makes one category per section and one setting per leaf", () => {
    const categories = configurationFromSchema(schema, { "aicockpit.client.x": { type: "string", default: "" } });
    expect(categories.map((c: { title: string }) => c.title)).toEqual(["Client", "The engine", "extra"]);
    const engine = categories[1].properties;
    expect(Object.keys(engine)).toEqual([
      "aicockpit.engine.model",
      "aicockpit.engine.tokenizer",
      "aicockpit.engine.mode",
      "aicockpit.engine.size",
    ]);
    expect(engine["aicockpit.engine.tokenizer"]).toMatchObject({ type: ["string", "null"], default: null });
    expect(engine["aicockpit.engine.mode"]).toMatchObject({ enum: ["a", "b"], default: "a" });
    expect(engine["aicockpit.engine.size"]).toMatchObject({ type: "integer", minimum: 1 });
  });

  it("inlines $refs in non-struct settings (maps of structs)", () => {
    const extra = configurationFromSchema(schema, {})[2].properties["aicockpit.extra"];
    expect(extra.additionalProperties).toEqual({ type: "object", properties: { model: { type: "string" } }, additionalProperties: false });
    expect(JSON.stringify(extra)).not.toContain("$ref");
  });

  it("refuses a server section named client", () => {
    const clash = { type: "object", properties: { client: { type: "string" } }, additionalProperties: false };
    expect(() => configurationFromSchema(clash, {})).toThrow(/client/);
  });
});
