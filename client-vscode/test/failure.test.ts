import { describe, expect, it } from "vitest";
import { backoffMs, classifyFailure, LineTail, RestartBudget } from "../src/failure";

describe("classifyFailure", () => {
  it("names a missing command", () => {
    const error = Object.assign(new Error("spawn aicockpit ENOENT"), { code: "ENOENT" });
    expect(classifyFailure("aicockpit serve", [], error)).toMatchObject({ kind: "not-found" });
  });
  it("names a missing Python package", () => {
    const tail = ["/usr/bin/python3: No module named aicockpit"];
    expect(classifyFailure("python3 -m aicockpit serve", tail).kind).toBe("missing-package");
    expect(classifyFailure("x", ["ModuleNotFoundError: No module named 'vllm'"]).kind).toBe("missing-engine");
  });
  it("reports engine errors and otherwise the last line", () => {
    expect(classifyFailure("x", ["info", "aicockpit: the engine failed to start: out of memory"])).toMatchObject({
      kind: "engine",
      message: expect.stringContaining("out of memory"),
    });
    expect(classifyFailure("x", ["Segmentation fault", ""]).message).toContain("Segmentation fault");
  });
});

describe("restart policy", () => {
  it("backs off exponentially up to a cap", () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffMs(n))).toEqual([1000, 2000, 4000, 8000, 30000]);
  });
  it("gives up after max crashes in the window and forgives old ones", () => {
    const budget = new RestartBudget(2, 1000);
    expect(budget.next(0)).toBe(1);
    expect(budget.next(10)).toBe(2);
    expect(budget.next(20)).toBeUndefined();
    expect(budget.next(5000)).toBe(1);
  });
  it("keeps only the latest lines", () => {
    const tail = new LineTail(2);
    tail.push("a\nb\r\nc\n");
    expect(tail.get()).toEqual(["b", "c"]);
  });
});
