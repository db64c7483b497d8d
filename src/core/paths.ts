/**
 * Where the project's own resources and the shared test data live, for code that runs from out/.
 */
import * as path from 'path';

/** The extension / package root (folder with package.json), from out/src/core/. */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
