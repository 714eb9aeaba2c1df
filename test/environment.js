/**
 * Jest runs tests in a separate realm, so typed arrays made there fail onnxruntime-node's
 * `instanceof Float32Array` checks (and arrays made by the native binding fail ours). Sharing the
 * host's typed-array constructors with the test realm removes the mismatch.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = ['ArrayBuffer', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Int32Array', 'Uint32Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'DataView', 'Buffer'];

class SharedTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArrayEnvironment;
