import { execFileSync } from "node:child_process";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { completionScript } from "./completion";

/** What bash offers after the words typed so far (the last one being completed). */
function complete(script: string, typed: string[]) {
  const words = ["steward", ...typed].map((w) => `'${w}'`).join(" ");
  const out = execFileSync(
    "bash",
    ["-c", `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${typed.length}; _steward_complete; printf '%s\\n' "\${COMPREPLY[@]}"`],
    {
      encoding: "utf8",
    },
  );
  return out.split("\n").filter(Boolean).sort();
}

describe("steward completion", () => {
  const program = new Command().name("steward").option("--json");
  const models = program.command("models");
  models.command("push <file>").requiredOption("--name <name>").option("--description <text>");
  models.command("pull <ref>");
  program.command("deployments").command("keys").command("revoke <name> <prefix>");
  const bash = completionScript(program, "bash");

  it("completes commands, subcommands and options from the command tree", () => {
    expect(complete(bash, [""])).toEqual(["--help", "--json", "deployments", "models"]);
    expect(complete(bash, ["models", "pu"])).toEqual(["pull", "push"]);
    expect(complete(bash, ["--json", "models", "push", "model.onnx", "--n"])).toEqual(["--name"]);
    expect(complete(bash, ["deployments", "keys", ""])).toEqual(["--help", "revoke"]);
  });

  it("prints scripts bash and zsh accept", () => {
    execFileSync("bash", ["-n"], { input: bash });
    expect(completionScript(program, "zsh")).toMatch(/bashcompinit/);
    execFileSync("bash", ["-n"], { input: completionScript(program, "zsh") });
  });
});
