import { describe, expect, it } from "vitest";
import { WORKFLOW_SCHEMA } from "../test/fixtures";
import { serverErrors, validateWorkflow } from "./validate";

const ok = {
  name: "three",
  tasks: [
    { name: "a", executor: "noop", params: { outputs: {} } },
    { name: "b", executor: "python", depends_on: ["a"], params: { function: "laf_runner.library:echo" } },
    { name: "c", executor: "noop", depends_on: ["b"] },
  ],
};

const check = (doc: unknown, instruments?: Record<string, object | null>) => validateWorkflow(doc, { schema: WORKFLOW_SCHEMA, instruments });

describe("validateWorkflow against the served schema (Ajv)", () => {
  it("accepts a valid document", () => {
    expect(check(ok)).toEqual([]);
  });

  it("puts each schema error at its field", () => {
    const errors = check({
      name: "",
      extra: 1,
      tasks: [{ name: "bad name!", executor: "teleport", timeout_s: -1, retry: { max_attempts: 0 } }, { executor: "noop" }],
    });
    const at = (path: string) => errors.filter((e) => e.path === path).map((e) => e.message);
    expect(at("name")).toEqual(["must not be empty"]);
    expect(at("")).toEqual(["unknown field 'extra'"]);
    expect(at("tasks.0.name")[0]).toMatch(/letters, digits/);
    expect(at("tasks.0.executor")[0]).toMatch(/^must be one of "noop", "python", "local"/);
    expect(at("tasks.0.timeout_s")).toEqual(["must be > 0"]);
    expect(at("tasks.0.retry.max_attempts")).toEqual(["must be >= 1"]);
    expect(at("tasks.1.name")).toEqual(["is required"]);
  });

  it("refuses an empty task list", () => {
    expect(check({ name: "x", tasks: [] })).toEqual([{ path: "tasks", message: "needs at least one entry", source: "schema" }]);
  });

  it("adds the graph checks JSON Schema cannot express", () => {
    const cyclic = structuredClone(ok);
    cyclic.tasks[0] = { ...cyclic.tasks[0], depends_on: ["c"] } as (typeof cyclic.tasks)[0];
    const errors = check(cyclic);
    expect(errors.map((e) => e.path).sort()).toEqual(["tasks.0.depends_on", "tasks.1.depends_on", "tasks.2.depends_on"]);
    expect(errors[0].source).toBe("graph");
    expect(errors[0].message).toMatch(/^cycle: a → c → b → a/);
  });

  it("checks params against the instrument's parameters_schema, and unknown instruments", () => {
    const balance = { type: "object", properties: { target_mg: { type: "number", minimum: 0 } }, additionalProperties: false };
    const doc = {
      name: "weigh",
      tasks: [
        { name: "w", executor: "http", instrument: "balance-01", params: { target_mg: -5, colour: "red" } },
        { name: "x", executor: "http", instrument: "nowhere" },
      ],
    };
    const errors = check(doc, { "balance-01": balance });
    expect(errors).toContainEqual({ path: "tasks.0.params.target_mg", message: "must be >= 0", source: "instrument" });
    expect(errors).toContainEqual({ path: "tasks.0.params", message: "unknown field 'colour'", source: "instrument" });
    expect(errors).toContainEqual({ path: "tasks.1.instrument", message: "unknown instrument 'nowhere'", source: "instrument" });
    // without a registry, instruments are left to the server
    expect(check(doc).filter((e) => e.source === "instrument")).toEqual([]);
  });
});

describe("serverErrors", () => {
  it("maps FastAPI 422 details to the same paths", () => {
    const detail = [
      { loc: ["body", "tasks", 1], msg: "task 'b': params.function must be 'module:function'", type: "value_error" },
      { loc: ["body", "tasks", 0, "name"], msg: "task 'a': String should match pattern", type: "string_pattern_mismatch" },
      { loc: ["body"], msg: "dependency cycle: a -> c -> b -> a (each task depends on the next)", type: "value_error" },
    ];
    expect(serverErrors(detail, ok).map((e) => e.path)).toEqual(["tasks.1.params", "tasks.0.name", "tasks.0.depends_on"]);
  });

  it("maps a plain detail naming an instrument or a task", () => {
    const doc = { name: "x", tasks: [{ name: "w", executor: "http", instrument: "gone" }] };
    expect(serverErrors("unknown instrument 'gone'", doc)[0].path).toBe("tasks.0.instrument");
    expect(serverErrors("task 'w': no runner serves the executor 'http'", doc)[0].path).toBe("tasks.0");
    expect(serverErrors("something else", doc)[0].path).toBe("");
  });
});
