import { describe, expect, it } from "vitest";
import { instructionsOf, outputsProblems, outputsSchemaOf, outputsToRows, parseOutputs, readValue, rowsToOutputs } from "./outputs";

describe("the outputs of a manual step", () => {
  it("reads a value as JSON where it is JSON, else as text", () => {
    expect([readValue("12"), readValue("true"), readValue("[1, 2]"), readValue("ok"), readValue(" "), readValue('"7"')]).toEqual([12, true, [1, 2], "ok", "", "7"]);
  });

  it("turns rows into an object and names an empty or repeated name", () => {
    expect(rowsToOutputs([{ key: "vials", value: "12" }, { key: "", value: "" }, { key: "note", value: "rack B" }])).toEqual({ outputs: { vials: 12, note: "rack B" }, errors: [] });
    expect(rowsToOutputs([{ key: "a", value: "1" }, { key: " a ", value: "2" }, { key: "", value: "x" }]).errors).toEqual(["row 2: 'a' is named twice", "row 3: a value needs a name"]);
  });

  it("round-trips an object through rows, keeping text that looks like JSON as text", () => {
    const outputs = { vials: 12, pass: true, code: "42", note: "ok" };
    expect(rowsToOutputs(outputsToRows(outputs)).outputs).toEqual(outputs);
    expect(outputsToRows({})).toEqual([{ key: "", value: "" }]);
  });

  it("parses a JSON object, and refuses anything else", () => {
    expect(parseOutputs(' {"a": 1} ')).toEqual({ outputs: { a: 1 }, error: null });
    expect(parseOutputs("")).toEqual({ outputs: {}, error: null });
    expect(parseOutputs("[1]").error).toBe("outputs must be a JSON object");
    expect(parseOutputs("{").error).toMatch(/^not JSON/);
  });

  it("checks the outputs against the step's outputs_schema", () => {
    const schema = { type: "object", required: ["vials"], properties: { vials: { type: "integer", minimum: 0 } } };
    expect(outputsProblems(schema, { vials: 3 })).toEqual([]);
    expect(outputsProblems(schema, {})).toEqual(["vials: is required"]);
    expect(outputsProblems(schema, { vials: -1 })).toEqual(["vials: must be >= 0"]);
    expect(outputsProblems(null, { anything: 1 })).toEqual([]);
  });

  it("finds the instructions and the schema in the params", () => {
    expect(instructionsOf({ instructions: "Load the rack" })).toBe("Load the rack");
    expect(instructionsOf({ instructions: "  " })).toBeNull();
    expect(outputsSchemaOf({ outputs_schema: { type: "object" } })).toEqual({ type: "object" });
    expect(outputsSchemaOf({ outputs_schema: [1] })).toBeNull();
    expect(outputsSchemaOf({})).toBeNull();
  });
});
