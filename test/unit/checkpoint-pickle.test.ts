import * as assert from 'assert';
import { PickleDict, PickleMalformed, PickleRefused, readPickle } from '../../src/core/checkpoints/pickle';

const noPersistent = () => { throw new Error('no persistent ids here'); };
const str = (s: string) => Buffer.concat([Buffer.from([0x58]), (() => { const b = Buffer.alloc(4); b.writeUInt32LE(Buffer.byteLength(s)); return b; })(), Buffer.from(s)]);
const short = (s: string) => Buffer.concat([Buffer.from([0x8c, Buffer.byteLength(s)]), Buffer.from(s)]);
const read = (...parts: (Buffer | string | number[])[]) => readPickle(Buffer.concat(parts.map(p => typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.isBuffer(p) ? p : Buffer.from(p))), noPersistent).value;

describe('pickle reader (never executes)', () => {
  it('refuses GLOBAL, STACK_GLOBAL, INST and NEWOBJ of anything outside the allow-list, naming it', () => {
    assert.throws(() => read([0x80, 2], 'cbuiltins\neval\n', str('1+1'), [0x85], 'R.'), (e: Error) => e instanceof PickleRefused && /asks to run builtins\.eval; nothing was executed/.test(e.message));
    assert.throws(() => read([0x80, 4], short('os'), short('system'), [0x93], str('echo hi'), [0x85], 'R.'), /asks to run os\.system/);
    assert.throws(() => read([0x80, 2], '(', str('x'), 'isubprocess\nPopen\n.'), /asks to run subprocess\.Popen/);
    assert.throws(() => read([0x80, 2], 'ccollections\nOrderedDict\n', ')', [0x81], '.'), /asks to create a collections\.OrderedDict/);
  });

  it('reads dicts, lists, numbers, strings and the memo, and builds an OrderedDict without calling it', () => {
    const d = read([0x80, 2], 'ccollections\nOrderedDict\nq\x00)Rq\x01(', str('a'), 'J\xff\xff\xff\xff', str('b'),
      ']q\x02(K\x01M\x00\x01\x8a\x01\x80G?\xe0\x00\x00\x00\x00\x00\x00eu', str('c'), 'h\x02s.');
    assert.ok(d instanceof PickleDict);
    const list = [1, 256, -128, 0.5];
    assert.deepStrictEqual(d.entries, [['a', -1], ['b', list], ['c', list]]);
    assert.strictEqual(d.get('b'), d.get('c'), 'BINGET returns the memoised object itself');
  });

  it('a truncated or broken pickle is malformed, not a crash', () => {
    assert.throws(() => read([0x80, 2], 'X\x10\x00\x00\x00abc'), (e: Error) => e instanceof PickleMalformed && /ends early/.test(e.message));
    assert.throws(() => read([0x80, 2], 'h\x05.'), /memo 5 read before it was written/);
    assert.throws(() => read([0x80, 2], [0xfe]), /unsupported pickle opcode 0xfe at byte 2/);
    assert.throws(() => read([0x80, 2], 'u.'), /no MARK/);
    assert.throws(() => read([0x80, 2], 'N'), /ends early/);
  });
});
