import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { probePython } from '../../src/core/python-env';
import { TESTED_TORCH, torchSupport } from '../../src/core/torch-support';
import { PYTHON } from '../helpers/shared';

describe('torch versions: tested, between, older, newer (About panel)', () => {
  it('classifies torch.__version__ strings against the tested 1.13 and 2.13', () => {
    assert.deepStrictEqual([...TESTED_TORCH], ['1.13', '2.13']);
    assert.strictEqual(torchSupport('1.13.1').status, 'tested');
    assert.strictEqual(torchSupport('2.13.0+cpu').status, 'tested');
    assert.strictEqual(torchSupport('2.11.0+cu130').status, 'between');
    assert.match(torchSupport('2.11.0+cu130').message, /torch-2 code paths tested on 2\.13/);
    assert.strictEqual(torchSupport('1.12.1').status, 'older');
    assert.match(torchSupport('1.12.1').message, /older than the oldest tested version \(1\.13\).*install torch 1\.13 or newer/);
    assert.strictEqual(torchSupport('1.9.0').status, 'older');
    assert.strictEqual(torchSupport('2.14.1').status, 'newer');
    assert.match(torchSupport('3.0.0').message, /newer than the newest tested version \(2\.13\)/);
    assert.strictEqual(torchSupport('nightly').status, 'unknown');
  });

  it('the interpreter probe reports it for the real torch', async () => {
    const version = execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
    const report = await probePython(PYTHON, 'setting');
    assert.strictEqual(report.torch?.version, version);
    assert.deepStrictEqual(report.torch?.support, torchSupport(version));
    assert.strictEqual(report.torch?.support.status, 'tested', 'Debian torch 1.13 is a tested version');
  });
});
