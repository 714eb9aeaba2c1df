/**
 * Jest global setup: compiles src/ to dist/ once before any test runs, so tests that spawn the
 * CLI (`node dist/cli.js ...`) exercise the current sources, not a stale build. It also points
 * the Vulkan loader at SwiftShader when no driver was chosen, so the WebGPU tests run on a
 * machine without a GPU; this has to happen here, in the parent process whose environment the
 * workers inherit (a test's process.env is jest's copy, which native code never sees).
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

function useSwiftShaderUnlessSet() {
  if (!process.env.VK_ICD_FILENAMES && fs.existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  // Dawn's Vulkan backend wants a runtime directory; a private one under /tmp will do.
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = path.join(os.tmpdir(), `ilr-xdg-${process.getuid ? process.getuid() : 0}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
}

module.exports = async function globalSetup() {
  useSwiftShaderUnlessSet();
  const root = path.resolve(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
  } catch (e) {
    throw new Error(`test/global-setup.js: \`tsc -p tsconfig.json\` failed, so dist/ would be stale:\n${e.stdout || ''}${e.stderr || ''}`);
  }
};
