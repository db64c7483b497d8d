/** Issue 10 (security) in the real extension host: what an untrusted workspace may make the extension read or write. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { isInside } from '../../src/host/datasets/tree';
import { EXTENSION_ID, activeApi } from './helpers';

describe('workspace trust and hostile workspaces (issue 10)', () => {
  it('scwb.datasetFolders and scwb.pythonPath are restricted settings', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } } };
    const restricted = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
    assert.ok(restricted.includes('scwb.datasetFolders') && restricted.includes('scwb.pythonPath'), restricted.join(', '));
  });

  it('the Runs view\'s store is read-only exactly while the workspace is untrusted', async () => {
    const api = await activeApi();
    assert.ok(api.runs.store);
    assert.strictEqual(api.runs.store.readOnly, !vscode.workspace.isTrusted);
  });

  it('a "derived from" link is followed only inside the workspace or the dataset folders, links resolved', () => {
    const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'scwb-outside-'));
    try {
      const target = path.join(outside, 'secret.h5ad');
      fs.writeFileSync(target, 'x');
      const link = path.join(ws, `.scwb-link-${process.pid}.h5ad`);
      fs.symlinkSync(target, link);
      try {
        assert.strictEqual(isInside(path.join(ws, 'a', 'b.h5ad'), [ws]), true);
        assert.strictEqual(isInside(path.join(ws, '..', 'elsewhere.h5ad'), [ws]), false);
        assert.strictEqual(isInside(path.join(ws, 'x', '..', '..', 'etc', 'passwd'), [ws]), false);
        assert.strictEqual(isInside(link, [ws]), false, 'a link inside pointing outside is outside');
        assert.strictEqual(isInside(target, [ws, outside]), true, 'a configured dataset folder counts');
        assert.strictEqual(isInside(ws, [ws]), false, 'the folder itself is not a file inside it');
      } finally {
        fs.rmSync(link, { force: true });
      }
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});
