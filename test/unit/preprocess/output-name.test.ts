/** The output file a preprocessing step proposes, from the recipe's kind (never from a recipe file's name). */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { proposedOutput } from '../../../src/core/preprocess/output-name';
import { readRecipeFile } from '../../../src/core/preprocess/recipe';

describe('preprocess: proposed output file', () => {
  const dir = path.join(path.sep, 'work', 'data');
  const none = () => false;

  it('is <input stem>.<recipe kind>.h5ad beside the input', () => {
    assert.strictEqual(proposedOutput(path.join(dir, 'hsmm.h5ad'), 'scgpt', none), path.join(dir, 'hsmm.scgpt.h5ad'));
  });

  it('takes the first free name when that file exists, and never the input itself', () => {
    const taken = new Set([path.join(dir, 'hsmm.scgpt.h5ad'), path.join(dir, 'hsmm.scgpt.2.h5ad')]);
    assert.strictEqual(proposedOutput(path.join(dir, 'hsmm.h5ad'), 'scgpt', f => taken.has(f)), path.join(dir, 'hsmm.scgpt.3.h5ad'));
    assert.strictEqual(proposedOutput(path.join(dir, 'x.scbert.h5ad'), 'scbert', none), path.join(dir, 'x.scbert.scbert.h5ad'));
  });

  it('names the output of a saved recipe file by the recipe inside, not by the file name', () => {
    // "Run and save the recipe file beside the output" writes hsmm.scgpt.recipe.json; running it again on hsmm.h5ad
    // proposed hsmm.hsmm.scgpt.recipe.h5ad
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'scwb-outname-'));
    try {
      const file = path.join(tmp, 'hsmm.scgpt.recipe.json');
      fs.writeFileSync(file, JSON.stringify({ recipe: 'scgpt', params: { vocab: 'vocab.json' } }));
      assert.strictEqual(path.basename(proposedOutput(path.join(tmp, 'hsmm.h5ad'), readRecipeFile(file).recipe)), 'hsmm.scgpt.h5ad');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
