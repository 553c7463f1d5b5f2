export function argValue(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Median seconds of fn() over at least minReps runs and minS seconds, after 3 warm-up runs. */
export function timeIt(fn, minReps, minS) {
  for (let i = 0; i < 3; i++) fn();
  const ts = [];
  const begin = performance.now();
  while (ts.length < minReps || performance.now() - begin < minS * 1000) {
    const t0 = performance.now();
    fn();
    ts.push((performance.now() - t0) / 1000);
  }
  return ts.sort((a, b) => a - b)[ts.length >> 1];
}
