/** The protocol options of `scwb finetune` (docs/protocols.md): absent flags keep the published values. */
import * as path from 'path';
import { UsageError, numberFlag, stringFlag } from './command';
import { CLASS_WEIGHT_CHOICES, GENE_EMB_INITS, KEEP_CHOICES, PRECISIONS, type ProtocolChoices } from '../core/runs/schema';

export const PROTOCOL_FLAGS = ['precision', 'adam-eps', 'head-dropout', 'keep', 'class-weights', 'shuffle', 'no-shuffle', 'gene-emb-init', 'gene2vec', 'few-shot-run'];
export const PROTOCOL_BOOLEANS = ['shuffle', 'no-shuffle', 'few-shot-run'];

export const PROTOCOL_USAGE = `protocol (default: the published one of the model; anything else is recorded as a deviation, scwb protocol RUN):
  --precision published|fp32|bf16|fp16   published: scBERT fp32, scGPT fp16 with a GradScaler (fp32 on a CPU)
  --adam-eps X  --head-dropout X         Adam eps (scBERT 1e-8, scGPT 1e-4); scBERT head dropout (0)
  --keep best-accuracy|best-loss|last    checkpoint evaluated (scBERT best-accuracy, scGPT best-loss)
  --class-weights dataset|train|none     cross-entropy weights 1/count (scBERT dataset, scGPT none)
  --shuffle / --no-shuffle               reshuffle the training rows each epoch (scBERT yes, scGPT no)
  --gene-emb-init uniform|normal         scGPT without pre-training: gene embedding init (U(-0.1, 0.1))
  --gene2vec FILE.npy                    scBERT without pre-training: the gene2vec table (default: the checkpoint's)
  --few-shot-run                         scBERT: draw fraction 1.0 from the few-shot script's stream too`;

function choice<T extends string>(flags: Map<string, string | true>, name: string, values: readonly T[]): T | undefined {
  const v = stringFlag(flags, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${values.join(', ')}, got '${v}'`);
  return v as T;
}

/** The protocol choices the flags set. */
export function protocolFromFlags(flags: Map<string, string | true>, cwd: string): { protocol: ProtocolChoices; fewShotRun?: boolean } {
  if (flags.has('shuffle') && flags.has('no-shuffle')) throw new UsageError('give --shuffle or --no-shuffle, not both');
  const num = (name: string) => (flags.has(name) ? numberFlag(flags, name, 0) : undefined);
  const gene2vec = stringFlag(flags, 'gene2vec');
  const protocol: ProtocolChoices = {
    precision: choice(flags, 'precision', PRECISIONS), adamEps: num('adam-eps'), headDropout: num('head-dropout'),
    keep: choice(flags, 'keep', KEEP_CHOICES), classWeights: choice(flags, 'class-weights', CLASS_WEIGHT_CHOICES),
    shuffle: flags.has('shuffle') ? true : flags.has('no-shuffle') ? false : undefined,
    geneEmbInit: choice(flags, 'gene-emb-init', GENE_EMB_INITS), gene2vec: gene2vec ? path.resolve(cwd, gene2vec) : undefined,
  };
  return { protocol, ...(flags.has('few-shot-run') ? { fewShotRun: true } : {}) };
}
