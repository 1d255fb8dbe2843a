import * as assert from "node:assert/strict";
import { assertExcludes, assertIncludes, assertMatch } from "./match";
import { clientSettings, findExecutable, resolveLaunch, serverSettings, CLIENT_DEFAULTS } from "../src/settings";
import { notFoundMessage } from "../src/failure";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

type Generator = typeof import("../scripts/settings.mjs", { with: { "resolution-mode": "import" } });
let configurationFromSchema: Generator["configurationFromSchema"];
before(async () => {
  // The generator is plain ESM (it runs without a build); load it from the source tree.
  const url = pathToFileURL(resolve(__dirname, "..", "..", "scripts", "settings.mjs")).href;
  ({ configurationFromSchema } = (await import(url)) as Generator);
});

describe("serverSettings", () => {
  it("drops the client section and functions", () => {
    const all = { client: { pythonPath: "/x" }, completion: { max_tokens: 8 }, get: () => 1 };
    assert.deepEqual(serverSettings(all), { completion: { max_tokens: 8 } });
  });
});

describe("clientSettings", () => {
  it("falls back to defaults on wrong types", () => {
    assert.deepEqual(clientSettings({ client: { serverCommand: "aicockpit", serverArgs: [1], statsIntervalMs: "x" } }), 
      CLIENT_DEFAULTS,
    );
    assertMatch(clientSettings({ client: { statsIntervalMs: 10, serverEnv: { A: "1", B: 2 } } }), {
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
    assertMatch(launch, { command: "/bin/ac", args: ["serve", "--model", "m"] });
  });
  it("runs the module with the configured python", () => {
    assertMatch(resolveLaunch(settings({ pythonPath: "/py" }), hints), {
      command: "/py",
      args: ["-m", "aicockpit", "serve"],
    });
  });
  it("finds the workspace .venv, then the Python extension's interpreter, then PATH", () => {
    const venv = resolveLaunch(settings({}), { ...hints, exists: (p: string) => p === "/ws/.venv/bin/aicockpit" });
    assertMatch(venv, { command: "/ws/.venv/bin/aicockpit", args: ["serve"] });
    assert.equal(resolveLaunch(settings({}), { ...hints, pythonInterpreter: "/env/bin/python" }).command, "/env/bin/python");
    assertMatch(resolveLaunch(settings({}), { ...hints, pythonInterpreter: "python" }), {
      command: "aicockpit",
      args: ["serve"],
    });
  });
});

describe("findExecutable", () => {
  const files = new Set(["/usr/bin/python3", "/ws/.venv/bin/aicockpit"]);
  const hints = { path: "/usr/local/bin::/usr/bin", isExecutable: (f: string) => files.has(f), platform: "linux" as const };

  it("looks a bare name up on the PATH, like spawn()", () => {
    assert.equal(findExecutable("python3", hints), "/usr/bin/python3");
    assert.equal(findExecutable("aicockpit", hints), undefined);
  });
  it("takes a path as it is", () => {
    assert.equal(findExecutable("/ws/.venv/bin/aicockpit", hints), "/ws/.venv/bin/aicockpit");
    assert.equal(findExecutable("/opt/nowhere/aicockpit", hints), undefined);
    assert.equal(findExecutable("  ", hints), undefined);
  });
  it("tries Windows' executable extensions", () => {
    const win = { path: "C:\\py", isExecutable: (f: string) => f === "C:\\py\\aicockpit.exe", platform: "win32" as const };
    assert.equal(findExecutable("aicockpit", win), "C:\\py\\aicockpit.exe");
  });
});

describe("notFoundMessage", () => {
  it("names the command and the setting to change", () => {
    const launch = { command: "/opt/x/aicockpit", source: "aicockpit.client.serverCommand", setting: "aicockpit.client.serverCommand" };
    assertMatch(notFoundMessage(launch), /`\/opt\/x\/aicockpit` \(from aicockpit.client.serverCommand\) was not found.*Set aicockpit.client.serverCommand to/);
    const python = { command: "/py", source: "aicockpit.client.pythonPath", setting: "aicockpit.client.pythonPath" };
    assertIncludes(notFoundMessage(python), "Set aicockpit.client.pythonPath to a Python that has aicockpit installed.");
    const path = { command: "aicockpit", source: "the PATH", setting: "aicockpit.client.serverCommand" };
    assertIncludes(notFoundMessage(path), "`aicockpit` was not found on the PATH");
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
    assert.deepEqual(categories.map((c: { title: string }) => c.title), ["Client", "General", "The engine"]);
    const engine = categories[2].properties;
    assert.deepEqual(Object.keys(engine), [
      "aicockpit.engine.model",
      "aicockpit.engine.tokenizer",
      "aicockpit.engine.mode",
      "aicockpit.engine.size",
    ]);
    assertMatch(engine["aicockpit.engine.tokenizer"], { type: ["string", "null"], default: null });
    assertMatch(engine["aicockpit.engine.mode"], { enum: ["a", "b"], default: "a" });
    assertMatch(engine["aicockpit.engine.size"], { type: "integer", minimum: 1 });
  });

  it("inlines $refs in non-struct settings (maps of structs)", () => {
    const extra = configurationFromSchema(schema, {})[1].properties["aicockpit.extra"];
    assert.deepEqual(extra.additionalProperties, { type: "object", properties: { model: { type: "string" } }, additionalProperties: false });
    assertExcludes(JSON.stringify(extra), "$ref");
  });

  it("refuses a server section named client", () => {
    const clash = { type: "object", properties: { client: { type: "string" } }, additionalProperties: false };
    assert.throws(() => configurationFromSchema(clash, {}), /client/);
  });
});
