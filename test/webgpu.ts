/**
 * Whether the WebGPU tests run: they need a Vulkan driver (a GPU's, or SwiftShader's, which
 * test/global-setup.js selects when none was chosen). In CI (REQUIRE_WEBGPU=1) they never skip.
 */
export const itWebGpu: jest.It = process.env.VK_ICD_FILENAMES || process.env.REQUIRE_WEBGPU === '1' ? it : it.skip;
