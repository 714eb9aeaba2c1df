/**
 * Jest global setup: compiles src/ to dist/ once before any test runs, so tests that spawn the
 * CLI (`node dist/cli.js ...`) exercise the current sources, not a stale build.
 */
const { execFileSync } = require('child_process');
const path = require('path');

module.exports = async function globalSetup() {
  const root = path.resolve(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
  } catch (e) {
    throw new Error(`test/global-setup.js: \`tsc -p tsconfig.json\` failed, so dist/ would be stale:\n${e.stdout || ''}${e.stderr || ''}`);
  }
};
