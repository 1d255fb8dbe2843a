import * as assert from "node:assert/strict";
import { assertIncludes, assertMatch } from "./match";
import { backoffMs, classifyFailure, LineTail, RestartBudget } from "../src/failure";

describe("classifyFailure", () => {
  it("names a missing command", () => {
    const error = Object.assign(new Error("spawn aicockpit ENOENT"), { code: "ENOENT" });
    assertMatch(classifyFailure("aicockpit serve", [], error), { kind: "not-found" });
  });
  it("names a missing Python package", () => {
    const tail = ["/usr/bin/python3: No module named aicockpit"];
    assert.equal(classifyFailure("python3 -m aicockpit serve", tail).kind, "missing-package");
    assert.equal(classifyFailure("x", ["ModuleNotFoundError: No module named 'vllm'"]).kind, "missing-engine");
    assertMatch(classifyFailure("py", ["ModuleNotFoundError: No module named 'pygls.lsp'"]), {
      kind: "missing-package",
      message: /`pygls` \(a dependency of aicockpit\)/,
    });
  });
  it("reports engine errors and otherwise the last line", () => {
    assertMatch(classifyFailure("x", ["info", "aicockpit: the engine failed to start: out of memory"]), {
      kind: "engine",
      message: /out of memory/,
    });
    assertIncludes(classifyFailure("x", ["Segmentation fault", ""]).message, "Segmentation fault");
  });
});

describe("restart policy", () => {
  it("backs off exponentially up to a cap", () => {
    assert.deepEqual([1, 2, 3, 4, 10].map((n) => backoffMs(n)), [1000, 2000, 4000, 8000, 30000]);
  });
  it("gives up after max crashes in the window and forgives old ones", () => {
    const budget = new RestartBudget(2, 1000);
    assert.equal(budget.next(0), 1);
    assert.equal(budget.next(10), 2);
    assert.equal(budget.next(20), undefined);
    assert.equal(budget.next(5000), 1);
  });
  it("keeps only the latest lines", () => {
    const tail = new LineTail(2);
    tail.push("a\nb\r\nc\n");
    assert.deepEqual(tail.get(), ["b", "c"]);
  });
});
