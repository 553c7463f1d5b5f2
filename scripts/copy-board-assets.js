// mnist-board's page is plain HTML, CSS and JavaScript (no bundler): copied beside the compiled server.
import { cpSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
cpSync(path.join(root, "src/board/static"), path.join(root, "dist/board/static"), { recursive: true });
