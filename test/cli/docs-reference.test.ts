// docs/commands.md against the commands' own definitions: every option of every command is in its
// section, and every option its tables name exists. Also --help and --version on every command.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram as boardProgram } from "../../src/cli/board.js";
import { buildProgram as evalProgram } from "../../src/cli/eval.js";
import { buildProgram as exportProgram } from "../../src/cli/export.js";
import { buildProgram as gradcheckProgram } from "../../src/cli/gradcheck.js";
import { buildProgram as predictProgram } from "../../src/cli/predict.js";
import { buildProgram as reportProgram } from "../../src/cli/report.js";
import { buildProgram as trainProgram } from "../../src/cli/train.js";
import { ROOT, runBin } from "../helpers.js";

const COMMANDS: Record<string, () => Command> = {
  "mnist-train": trainProgram,
  "mnist-eval": evalProgram,
  "mnist-predict": predictProgram,
  "mnist-report": reportProgram,
  "mnist-gradcheck": gradcheckProgram,
  "mnist-export": exportProgram,
  "mnist-board": boardProgram,
};
const reference = readFileSync(path.join(ROOT, "docs", "commands.md"), "utf8");

/** The text under `## <name>` up to the next `## `. */
function section(name: string): string {
  const start = reference.indexOf(`\n## ${name}\n`);
  expect(start, `docs/commands.md has a "## ${name}" section`).toBeGreaterThan(0);
  const end = reference.indexOf("\n## ", start + 1);
  return reference.slice(start, end < 0 ? undefined : end);
}

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));

describe("docs/commands.md", () => {
  it("lists every command of package.json", () => {
    expect(Object.keys(pkg.bin).sort()).toEqual(Object.keys(COMMANDS).sort());
  });

  for (const [name, build] of Object.entries(COMMANDS)) {
    it(`${name}: every option is in its section's tables, and every option they name exists`, () => {
      const text = section(name);
      const tableText = text.split("\n").filter((l) => l.startsWith("|")).join("\n");
      const flags = build().options.map((o) => o.long!);
      expect(flags.length).toBeGreaterThanOrEqual(3); // --version, --debug and one of its own at least
      for (const flag of flags) expect(tableText, `${flag} of ${name}`).toMatch(new RegExp("`" + flag + "[ `]"));
      const named = new Set([...tableText.matchAll(/`(--[a-z0-9-]+)/g)].map((m) => m[1]));
      for (const flag of named) expect(flags, `${flag} named in ${name}'s tables`).toContain(flag);
    });
  }
});

describe("--help and --version", () => {
  for (const name of Object.keys(COMMANDS)) {
    it(`${name} --help lists its options and exits 0; --version prints the package's version`, async () => {
      const help = await runBin(name, ["--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: ${name} `));
      for (const flag of COMMANDS[name]().options.map((o) => o.long!)) expect(help.stdout).toContain(flag);
      const version = await runBin(name, ["--version"]);
      expect(version.code).toBe(0);
      expect(version.stdout).toBe(`${pkg.version}\n`);
    });
  }
});
