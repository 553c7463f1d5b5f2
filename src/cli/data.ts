/** Loading MNIST for a command: the chosen source, with one stderr line per download attempt. */
import type { DataSource, MnistRaw } from "../data/mnist.js";
import { loadMnistRaw } from "../data/mnist.js";

export async function loadForCommand(source: DataSource, dataDir: string | undefined, log: (line: string) => void): Promise<MnistRaw> {
  if (source === "download") log(`MNIST: verifying or downloading the four files in ${dataDir ?? "data"}/`);
  let current = "";
  return loadMnistRaw({
    source,
    dataDir,
    onProgress: (e) => {
      if (e.url === current) return;
      current = e.url;
      log(`downloading ${e.url} (${e.total} bytes)`);
    },
  });
}
