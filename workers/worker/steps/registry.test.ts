import { describe, expect, it } from "vitest";
import { STEP_TYPES } from "~/server/shared/pipeline-spec";
import { COMMAND_STEP_TYPE, STEP_HANDLERS } from "./registry";

describe("step registry", () => {
  const handled = Object.keys(STEP_HANDLERS);

  it("has a handler for every step type of the pipeline spec but command", () => {
    const missing = STEP_TYPES.filter((t) => t !== COMMAND_STEP_TYPE && !handled.includes(t));
    expect(missing).toEqual([]);
  });

  it("handles no step type the pipeline spec does not accept", () => {
    const unknown = [...handled, COMMAND_STEP_TYPE].filter((t) => !(STEP_TYPES as readonly string[]).includes(t));
    expect(unknown).toEqual([]);
  });

  it("maps each step type to a function", () => {
    for (const [type, handler] of Object.entries(STEP_HANDLERS)) expect(typeof handler, type).toBe("function");
  });
});
