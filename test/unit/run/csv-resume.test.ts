/**
 * Resuming trims loss.csv to the checkpoint in chunks (bounded memory for any length a run can
 * write): the result must equal a plain whole-file filter, across chunk boundaries, with a half
 * last line and stray lines.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CsvReporter } from "../../../src/run/csv.js";
import { tempDir } from "../../helpers.js";

const tmp = tempDir("mnist-ts-csv-");
afterAll(() => tmp.cleanup());

/** The reference: split the whole text, keep the header and the whole rows before `iteration`. */
function plainTrim(text: string, header: string, iteration: number): string {
  const rows = text.split("\n").slice(1, -1).filter((l) => /^\d+$/.test(l.split(",", 1)[0]) && Number(l.split(",", 1)[0]) < iteration);
  return [header, ...rows].join("\n") + "\n";
}

describe("resuming a run's CSVs", () => {
  it("a 3 MB loss.csv with a half last line and stray lines is trimmed as a plain filter trims it", () => {
    const dir = tmp.dir;
    const rows: string[] = [];
    for (let i = 0; i < 120_000; i++) rows.push(`${i},${(2.3 / (1 + i / 1000)).toPrecision(17)}`);
    rows.splice(5000, 0, "garbage line", "", "-3,1");
    const text = "iteration,loss\n" + rows.join("\n") + "\n99999";
    expect(text.length).toBeGreaterThan(3 * 1024 * 1024);
    writeFileSync(path.join(dir, "loss.csv"), text);
    writeFileSync(path.join(dir, "epochs.csv"), "evaluation,epoch,iteration,train_acc,test_acc,elapsed_s\n0,0.01,0,0.1,0.1,0.5\n1,1.01,100,0.5,0.5,1.0\n2,2.01,200,0.7,0.7,1.5\n3,30");
    const csv = new CsvReporter(dir, { iteration: 100_001, evaluation: 2 });
    csv.close();
    expect(readFileSync(path.join(dir, "loss.csv"), "utf8")).toBe(plainTrim(text, "iteration,loss", 100_001));
    expect(readFileSync(path.join(dir, "loss.csv"), "utf8").split("\n")).toHaveLength(100_001 + 2);
    expect(readFileSync(path.join(dir, "epochs.csv"), "utf8")).toBe("evaluation,epoch,iteration,train_acc,test_acc,elapsed_s\n0,0.01,0,0.1,0.1,0.5\n1,1.01,100,0.5,0.5,1.0\n");
  });
});
