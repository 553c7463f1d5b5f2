/**
 * A 28×28 digit drawn with Unicode shading (" ░▒▓█", light to dark ink), framed: `full` draws each
 * pixel as two characters (square on most terminals, 28 lines); `compact` one character per pixel
 * and two rows per line (14 lines), for showing several digits side by side.
 */
const SHADES = [" ", "░", "▒", "▓", "█"];

function shade(v: number): string {
  return SHADES[Math.min(SHADES.length - 1, Math.round((v / 255) * (SHADES.length - 1)))];
}

export function digitArt(pixels: Uint8Array, size = 28, mode: "full" | "compact" = "full"): string[] {
  const lines: string[] = [];
  const inner = mode === "full" ? size * 2 : size;
  lines.push("┌" + "─".repeat(inner) + "┐");
  if (mode === "full") {
    for (let y = 0; y < size; y++) {
      let line = "";
      for (let x = 0; x < size; x++) line += shade(pixels[y * size + x]).repeat(2);
      lines.push("│" + line + "│");
    }
  } else {
    for (let y = 0; y < size; y += 2) {
      let line = "";
      for (let x = 0; x < size; x++) {
        const below = y + 1 < size ? pixels[(y + 1) * size + x] : 0;
        line += shade((pixels[y * size + x] + below) / 2);
      }
      lines.push("│" + line + "│");
    }
  }
  lines.push("└" + "─".repeat(inner) + "┘");
  return lines;
}

/** Blocks of lines (each with a caption above) laid out left to right, wrapping at `maxWidth` columns. */
export function sideBySide(blocks: { caption: string; lines: string[] }[], maxWidth: number, gap = 2): string {
  if (blocks.length === 0) return "";
  const width = Math.max(...blocks.map((b) => Math.max(b.caption.length, ...b.lines.map((l) => [...l].length))));
  const perRow = Math.max(1, Math.floor((maxWidth + gap) / (width + gap)));
  const out: string[] = [];
  for (let i = 0; i < blocks.length; i += perRow) {
    const row = blocks.slice(i, i + perRow);
    const height = Math.max(...row.map((b) => b.lines.length)) + 1;
    for (let l = 0; l < height; l++) {
      const parts = row.map((b) => {
        const text = l === 0 ? b.caption : (b.lines[l - 1] ?? "");
        return text + " ".repeat(width - [...text].length);
      });
      out.push(parts.join(" ".repeat(gap)).trimEnd());
    }
    out.push("");
  }
  return out.join("\n");
}
