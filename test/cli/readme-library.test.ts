// The README's library snippet as a user runs it: `npm pack`, install the tarball into a scratch
// project, compile the snippet with tsc against the installed types, run it, and hand the model it
// saves to the installed mnist-predict. Offline: `npm install x.tgz` would ask the registry for the
// dependencies' metadata, so the scratch project gets a lockfile made of this repository's locked
// production dependencies, and `npm ci --offline` takes them from npm's cache, as `npm ci` left them.
// docs/library.md's typed loadMnist snippet is compiled and run the same way.
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT, runProcess, tempDir } from "../helpers.js";

const tmp = tempDir("mnist-ts-consumer-");
afterAll(() => tmp.cleanup());

/** The ```ts blocks of a Markdown file. */
function tsBlocks(file: string): string[] {
  return [...readFileSync(path.join(ROOT, file), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** A lockfile for a project that depends on the tarball alone: its production dependencies as this repository locks them. */
function scratchLockfile(spec: string) {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));
  // npm may be set to leave registry URLs out of lockfiles (omit-lockfile-registry-resolved); offline
  // it then needs them back to take each tarball from its cache by integrity
  const production = Object.entries(lock.packages as Record<string, { dev?: boolean; version: string; resolved?: string; name?: string }>)
    .filter(([key, entry]) => key.startsWith("node_modules/") && !entry.dev)
    .map(([key, entry]) => {
      const name = entry.name ?? key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
      const resolved = entry.resolved ?? `https://registry.npmjs.org/${name}/-/${name.split("/").at(-1)}-${entry.version}.tgz`;
      return [key, { ...entry, resolved }] as const;
    });
  return {
    name: "app",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: "app", dependencies: { "mnist-ts": spec } },
      "node_modules/mnist-ts": { version: pkg.version, resolved: spec, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
      ...Object.fromEntries(production),
    },
  };
}

const npm = (args: string[], cwd: string) => runProcess("npm", args, { cwd, env: { ...process.env, npm_config_fund: "false", npm_config_audit: "false" } });

it("the README's snippet compiles and runs against the packed package; mnist-predict reads the model it saves", async () => {
  const [readme] = tsBlocks("README.md");
  const typed = tsBlocks("docs/library.md").find((b) => b.includes("oneHotLabel: true"))!;
  expect(readme).toContain('from "mnist-ts"');
  expect(typed).toContain("net.accuracy(");

  // the scripts already ran (npm test builds): pack what is built, as `npm pack` after `npm install` does
  const pack = await npm(["pack", "--ignore-scripts", "--pack-destination", tmp.dir], ROOT);
  expect(pack.code, pack.stderr).toBe(0);
  const tarball = readdirSync(tmp.dir).find((f) => /^mnist-ts-.*\.tgz$/.test(f))!;
  const app = path.join(tmp.dir, "app");
  await runProcess("mkdir", ["-p", app], { cwd: tmp.dir, env: process.env });
  const spec = `file:../${tarball}`;
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module", dependencies: { "mnist-ts": spec } }));
  writeFileSync(path.join(app, "package-lock.json"), JSON.stringify(scratchLockfile(spec)));
  const install = await npm(["ci", "--offline"], app);
  expect(install.code, install.stderr).toBe(0);

  writeFileSync(path.join(app, "readme.ts"), readme);
  writeFileSync(path.join(app, "typed.ts"), typed);
  writeFileSync(
    path.join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: true, outDir: "out", typeRoots: [path.join(ROOT, "node_modules", "@types")], types: ["node"] },
      include: ["*.ts"],
    }),
  );
  const tsc = await runProcess(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "."], { cwd: app, env: process.env });
  expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);

  const run = await runProcess(process.execPath, ["out/readme.js"], { cwd: app, env: process.env });
  expect(run.code, run.stderr).toBe(0);
  const accuracy = Number(run.stdout.match(/^test accuracy (\S+)$/m)![1]);
  expect(accuracy).toBeGreaterThan(0.9); // 2000 iterations at lr 0.5 on all 60,000 images
  copyFileSync(path.join(ROOT, "examples", "seven.png"), path.join(app, "my-digit.png"));
  const predict = await runProcess(path.join(app, "node_modules", ".bin", "mnist-predict"), ["model.json", "my-digit.png", "--json"], { cwd: app, env: process.env });
  expect(predict.code, predict.stderr).toBe(0);
  expect(JSON.parse(predict.stdout).predictions[0].digit).toBe(7);
  const evaluated = await runProcess(path.join(app, "node_modules", ".bin", "mnist-eval"), ["model.json", "--json"], { cwd: app, env: process.env });
  expect(evaluated.code, evaluated.stderr).toBe(0);
  expect(JSON.parse(evaluated.stdout).testAccuracy).toBe(accuracy);

  const typedRun = await runProcess(process.execPath, ["out/typed.js"], { cwd: app, env: process.env });
  expect(typedRun.code, typedRun.stderr).toBe(0);
  // 100 test images through an untrained net (small random weights): about one in ten right
  expect(Number(typedRun.stdout.trim())).toBeLessThan(0.3);
}, 600_000);
