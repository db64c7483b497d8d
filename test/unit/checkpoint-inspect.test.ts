import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectCheckpoint, inspectTask } from '../../src/core/checkpoints/inspect';
import { PUBLISHED_SCBERT, PUBLISHED_SCGPT, scbertLayout, scgptLayout } from '../../src/core/checkpoints/layouts';
import { main } from '../../src/cli/main';
import { REFERENCE_DIR, runPythonJson, tempDir } from '../helpers/shared';

type Listing = Record<string, [string, number[], string][]>;
const MANIFESTS = path.join(REFERENCE_DIR, 'checkpoints');

function manifest(file: string): [string, number[], string][] {
  const m = JSON.parse(fs.readFileSync(path.join(MANIFESTS, file), 'utf8')) as Record<string, { shape: number[]; dtype: string }>;
  return Object.entries(m).map(([k, v]) => [k, v.shape, v.dtype]);
}

describe('checkpoint inspection (files written by Debian torch 1.13)', function () {
  let dir: string;
  let torchSays: Listing;
  before(function () {
    dir = tempDir('scwb-ckpt-');
    torchSays = runPythonJson<Listing>('checkpoint_make.py', [dir, MANIFESTS]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const listing = (file: string) => inspectCheckpoint(path.join(dir, file)).tensors.map(t => [t.name, t.shape, t.dtype]);

  it('reads the same tensor names, shapes and dtypes torch reports (tiny models, many dtypes, parameters)', () => {
    for (const f of ['tiny.pth', 'params.pt', 'module_prefix.pth', 'scbert_pretrain.pth', 'scbert_finetuned.pth', 'scgpt_flash.pt', 'scgpt_torch.pt', 'scbert_misshaped.pth', 'tiny.safetensors', 'proto4.pth', 'worker_scbert_cls.pth', 'worker_scgpt_cls.pt', 'scgpt_folder/best_model.pt']) {
      assert.deepStrictEqual(listing(f), torchSays[f], f);
    }
    const tiny = inspectCheckpoint(path.join(dir, 'tiny.pth'));
    assert.strictEqual(tiny.stateDictKey, 'model_state_dict');
    assert.deepStrictEqual(tiny.topLevel, [
      { key: 'model_state_dict', description: 'state dict of 9 tensors' }, { key: 'epoch', description: 'int 3' },
      { key: 'best_acc', description: 'float 0.875' }, { key: 'note', description: 'str "tiny"' }]);
    assert.strictEqual(tiny.parameterCount, 20 + 4 + 4 * 4 + 1 + 12 + 3);
    assert.deepStrictEqual(tiny.problems, []);
    const params = inspectCheckpoint(path.join(dir, 'params.pt'));
    assert.deepStrictEqual(params.tensors.filter(t => t.parameter).map(t => t.name), ['w', 'frozen']);
  });

  it('reads the full published layouts and recognises each architecture with nothing missing', () => {
    const cases: [string, string, number][] = [
      ['scbert_pretrain.pth', 'scbert-pretrain', 8_388_607 + 102_145], ['scbert_finetuned.pth', 'scbert-finetuned', 17_111_380 + 102_145],
      ['scgpt_flash.pt', 'scgpt-flash', 51_330_049], ['scgpt_torch.pt', 'scgpt-torch', 51_330_049]];
    for (const [f, arch, count] of cases) {
      const s = inspectCheckpoint(path.join(dir, f));
      assert.strictEqual(s.recognition.architecture, arch, f);
      assert.strictEqual(s.parameterCount, count, f);
      const c = s.recognition.comparison!;
      assert.deepStrictEqual([c.missing, c.unexpected, c.misShaped, c.differsFromPublished], [[], [], [], []], f);
      assert.deepStrictEqual(s.problems, [], f);
    }
    const ft = inspectCheckpoint(path.join(dir, 'scbert_finetuned.pth'));
    assert.strictEqual(ft.recognition.sizes?.classes, 11);
  });

  it('the layouts generated from the published sizes equal the manifests key for key (order, shape, dtype)', () => {
    const gen = (l: { name: string; shape: number[]; dtype: string }[]) => l.map(k => [k.name, k.shape, k.dtype]);
    assert.deepStrictEqual(gen(scbertLayout(PUBLISHED_SCBERT, false)), manifest('scbert_pretrain_state_dict.json'));
    const head = manifest('scbert_finetune_head.json');
    assert.deepStrictEqual(gen(scbertLayout(PUBLISHED_SCBERT, true)), [...manifest('scbert_pretrain_state_dict.json').filter(k => !k[0].startsWith('to_out.')), ...head]);
    assert.deepStrictEqual(gen(scgptLayout(PUBLISHED_SCGPT, true)), manifest('scgpt_human_flash_state_dict.json'));
    assert.deepStrictEqual(gen(scgptLayout(PUBLISHED_SCGPT, false)), manifest('scgpt_human_torch_state_dict.json'));
  });

  it('recognises the bundled worker\'s classifiers and an scGPT folder with its vocabulary; a vocabulary that does not fit the embedding is a problem', () => {
    const bert = inspectCheckpoint(path.join(dir, 'worker_scbert_cls.pth'));
    assert.strictEqual(bert.recognition.label, 'scBERT fine-tuned (5 classes, dim 16, depth 2, 30 genes)');
    assert.deepStrictEqual(bert.problems, []);
    assert.ok(bert.recognition.comparison!.differsFromPublished.includes('dim 16 (published 200)'));
    const gpt = inspectCheckpoint(path.join(dir, 'worker_scgpt_cls.pt'));
    assert.strictEqual(gpt.recognition.architecture, 'scgpt-classifier');
    assert.strictEqual(gpt.recognition.sizes?.classes, 5);
    assert.deepStrictEqual(gpt.problems, []);
    const folder = path.join(dir, 'scgpt_folder');
    const f = inspectCheckpoint(folder);
    assert.strictEqual(f.format, 'scgpt-folder');
    assert.strictEqual(f.recognition.architecture, 'scgpt-flash');
    assert.deepStrictEqual([f.scgpt?.vocabSize, f.scgpt?.specialTokens, f.scgpt?.args?.embsize], [33, ['<pad>', '<cls>', '<eoc>'], 32]);
    assert.deepStrictEqual(f.problems, []);
    const vocab = JSON.parse(fs.readFileSync(path.join(folder, 'vocab.json'), 'utf8')) as Record<string, number>;
    const smaller = path.join(dir, 'scgpt_small_vocab');
    fs.mkdirSync(smaller);
    fs.copyFileSync(path.join(folder, 'best_model.pt'), path.join(smaller, 'best_model.pt'));
    delete vocab.G0;
    fs.writeFileSync(path.join(smaller, 'vocab.json'), JSON.stringify(vocab));
    assert.deepStrictEqual(inspectCheckpoint(smaller).problems, ['vocab.json has 32 tokens but the embedding has 33 rows']);
    fs.writeFileSync(path.join(smaller, 'vocab.json'), '{"G0": ');
    assert.throws(() => inspectCheckpoint(smaller), /scgpt_small_vocab\/vocab\.json: not valid JSON/);
  });

  it('lists missing, unexpected and mis-shaped keys, and ignores a DataParallel module. prefix', () => {
    const c = inspectCheckpoint(path.join(dir, 'scbert_misshaped.pth')).recognition.comparison!;
    assert.deepStrictEqual(c.missing, ['norm.bias']);
    assert.deepStrictEqual(c.unexpected, ['extra.weight']);
    assert.deepStrictEqual(c.misShaped, [{ name: 'performer.net.layers.1.0.fn.to_q.weight', expected: [640, 200], actual: [640, 201] }]);
    const prefixed = inspectCheckpoint(path.join(dir, 'module_prefix.pth'));
    assert.strictEqual(prefixed.recognition.strippedPrefix, 'module.');
    assert.strictEqual(prefixed.recognition.architecture, 'unknown');
  });

  it('refuses a hostile pickle without running it, and names the call', () => {
    assert.throws(() => inspectCheckpoint(path.join(dir, 'hostile.pth')), /hostile\.pth: refused: the file asks to run posix\.system; nothing was executed/);
    assert.ok(!fs.existsSync(path.join(dir, 'PWNED')));
    assert.match(inspectTask({ path: path.join(dir, 'hostile.pth') }).error!, /refused: the file asks to run posix\.system/);
  });

  it('a truncated zip and a non-checkpoint get a clear error naming the file', () => {
    assert.throws(() => inspectCheckpoint(path.join(dir, 'truncated.pth')), /truncated\.pth: not a zip file or truncated/);
    const junk = path.join(dir, 'junk.pt');
    fs.writeFileSync(junk, 'hello');
    assert.throws(() => inspectCheckpoint(junk), /junk\.pt: not a PyTorch checkpoint/);
    const badSt = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(badSt, Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0, 1]));
    assert.throws(() => inspectCheckpoint(badSt), /bad\.safetensors: safetensors header length/);
  });

  it('reads an ONNX export: opset, dynamic-batch inputs and outputs, initializers', () => {
    const s = inspectCheckpoint(path.join(dir, 'tiny.onnx'));
    assert.deepStrictEqual(s.onnx!.opsets.find(o => o.domain === '')?.version, 17);
    assert.deepStrictEqual(s.onnx!.inputs, [{ name: 'x', elemType: 'float32', shape: ['batch', 5] }]);
    assert.deepStrictEqual(s.onnx!.outputs, [{ name: 'logits', elemType: 'float32', shape: ['batch', 3] }]);
    assert.ok(s.tensors.length > 0 && s.tensors.every(t => t.dtype === 'float32'));
  });

  it('scwb checkpoint inspect prints the summary, --json the same object, and exits 1 on a refused file', async () => {
    let out = '';
    let err = '';
    const io = { out: (t: string) => { out += t; }, err: (t: string) => { err += t; } };
    assert.strictEqual(await main(['checkpoint', 'inspect', path.join(dir, 'scgpt_flash.pt')], io), 0);
    assert.match(out, /architecture: scGPT flash-attn names \(Wqkv\) \(60697 tokens, d 512, 12 layers\)/);
    assert.match(out, /layout: 0 missing, 0 unexpected, 0 mis-shaped/);
    out = '';
    assert.strictEqual(await main(['checkpoint', 'inspect', '--json', path.join(dir, 'tiny.pth')], io), 0);
    assert.deepStrictEqual(JSON.parse(out), JSON.parse(JSON.stringify(inspectCheckpoint(path.join(dir, 'tiny.pth')))));
    assert.strictEqual(await main(['checkpoint', 'inspect', path.join(dir, 'hostile.pth')], io), 1);
    assert.match(err, /refused: the file asks to run posix\.system/);
    assert.strictEqual(await main(['checkpoint', 'frobnicate'], io), 2);
  });
});
