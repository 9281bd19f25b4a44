// The model manifest: everything needed to feed a model and read its answer, validated on
// load so a bad manifest is refused with the field that is wrong.
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { OneOf } from '../config/schema.js';
import { schemaProblems } from '../schema-problems.js';
import { inputGeometry } from './input-geometry.js';

export const MANIFEST_FILE = 'manifest.json';

// Caps on what a manifest may declare. A manifest comes from whoever can write the models
// directory or upload an archive; each number below sizes an allocation or a loop.
export const manifestLimits = {
  /** Largest manifest.json read, in bytes. */
  fileBytes: 1024 * 1024,
  /** Each input dimension (height, width, channels). */
  dimension: 8192,
  /** Input tensor elements (C·H·W): 16 Mi float32 is 64 MiB per part. */
  inputElements: 16 * 1024 * 1024,
  labels: 10_000,
  labelLength: 128,
  golden: 100,
  /** Each golden image, and all of one version's together, in bytes. */
  goldenBytes: 32 * 1024 * 1024,
  goldenTotalBytes: 128 * 1024 * 1024,
  text: 4096,
} as const;

const Label = Type.String({ minLength: 1, maxLength: manifestLimits.labelLength });

export const ManifestSchema = Type.Object(
  {
    schemaVersion: Type.Literal(1, { description: 'Manifest format version.' }),
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', maxLength: 64, description: 'Model name; the parent directory name.' }),
    version: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.+-]*$', maxLength: 64, description: 'Model version; the directory name.' }),
    description: Type.Optional(Type.String({ maxLength: manifestLimits.text })),
    format: OneOf(['onnx', 'tflite'] as const, { title: 'Format', description: 'Selects the runtime.' }),
    file: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', maxLength: 255, description: 'Model file name inside the version directory.' }),
    sha256: Type.String({ pattern: '^[a-f0-9]{64}$', description: 'Lower-case hex sha256 of the model file.' }),
    input: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 256 }),
        shape: Type.Array(Type.Integer({ minimum: 1, maximum: manifestLimits.dimension }), { minItems: 4, maxItems: 4, description: 'Batch, then channels/height/width in `layout` order.' }),
        layout: OneOf(['NCHW', 'NHWC'] as const, { title: 'Layout', description: 'Tensor layout.' }),
        dtype: OneOf(['float32', 'uint8'] as const, { title: 'Dtype', description: 'Input element type; uint8 skips normalisation.', default: 'float32' }),
        colorOrder: OneOf(['RGB', 'BGR', 'GRAY'] as const, { title: 'Color order', description: 'Channel order the model was trained on.' }),
        resize: OneOf(['stretch', 'letterbox', 'crop', 'pad-right'] as const, {
          title: 'Resize',
          description: 'stretch: to W×H ignoring aspect; letterbox: fit inside, black borders; crop: cover then centre-crop; pad-right: fit the height, keep aspect up to W, pad the right with tensor zeros (PaddleOCR).',
        }),
        normalize: Type.Object(
          {
            scale: Type.Number({ default: 1 / 255, description: 'Pixel values are multiplied by scale first.' }),
            mean: Type.Array(Type.Number(), { minItems: 1, maxItems: 3, default: [0, 0, 0] }),
            std: Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1, maxItems: 3, default: [1, 1, 1] }),
          },
          { additionalProperties: false, default: {}, description: 'value = (pixel × scale − mean[c]) / std[c], per channel in colorOrder.' },
        ),
      },
      { additionalProperties: false },
    ),
    output: Type.Object(
      {
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Output tensor; the first output when absent.' })),
        reduce: OneOf(['none', 'max', 'mean'] as const, {
          title: 'Reduce',
          description: 'Collapse the output to one score first (e.g. max over a detector\'s anchor scores: "is there any face").',
          default: 'none',
        }),
        activation: OneOf(['none', 'softmax', 'sigmoid'] as const, { title: 'Activation', description: 'Applied to the (reduced) output to get probabilities.', default: 'none' }),
      },
      { additionalProperties: false, default: {} },
    ),
    labels: Type.Array(Label, {
      minItems: 2,
      maxItems: manifestLimits.labels,
      uniqueItems: true,
      description: 'One per output score, in order; with two labels a single score is the probability of the second.',
    }),
    failLabels: Type.Array(Label, { minItems: 1, maxItems: manifestLimits.labels, uniqueItems: true, description: 'Labels that mean the part is bad.' }),
    thresholds: Type.Object(
      {
        pass: Type.Number({ minimum: 0, maximum: 1 }),
        fail: Type.Number({ minimum: 0, maximum: 1 }),
      },
      { additionalProperties: false, description: 'Probability needed for pass and for fail; between them the verdict is uncertain.' },
    ),
    golden: Type.Optional(
      Type.Array(
        Type.Object(
          {
            file: Type.String({ pattern: '^(?!/)(?!.*\\.\\.)[A-Za-z0-9_./-]+$', maxLength: 255, description: 'Image inside the version directory.' }),
            verdict: OneOf(['pass', 'fail', 'uncertain'] as const, { title: 'Verdict', description: 'What this version must answer for the image.' }),
            sha256: Type.Optional(Type.String({ pattern: '^[a-f0-9]{64}$', description: 'Lower-case hex sha256 of the image, so the signature covers it; `linesight models sign` fills it in. Required when trusted keys are configured.' })),
          },
          { additionalProperties: false },
        ),
        { maxItems: manifestLimits.golden, description: 'Golden samples: activation is refused if the version disagrees with any of them.' },
      ),
    ),
    signature: Type.Optional(Type.String({ maxLength: 1024, description: 'ed25519 signature (base64) over the canonical manifest without this field; pins the model sha256.' })),
    source: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 32, description: 'Provenance: where the model came from, its licence.' })),
  },
  { additionalProperties: false },
);

export type ModelManifest = Static<typeof ManifestSchema>;
export type InputSpec = ModelManifest['input'];
export type OutputSpec = ModelManifest['output'];

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
const validate = ajv.compile<ModelManifest>(ManifestSchema);

/** Checks a parsed manifest; returns the problems (empty when valid), each naming the field. */
export function manifestProblems(raw: unknown): { manifest?: ModelManifest; problems: string[] } {
  if (!validate(raw)) return { problems: schemaProblems(validate.errors, raw) };
  const m = raw;
  const problems: string[] = [];
  for (const [i, l] of m.failLabels.entries()) {
    if (!m.labels.includes(l)) problems.push(`failLabels[${i}]: got ${JSON.stringify(l)}, expected one of labels ${JSON.stringify(m.labels)}`);
  }
  if (m.failLabels.length === m.labels.length) problems.push('failLabels: every label is a fail label; at least one must mean pass');
  const channels = inputGeometry(m.input).channels;
  const wanted = m.input.colorOrder === 'GRAY' ? 1 : 3;
  if (channels !== wanted) {
    problems.push(`input.shape: got ${channels} channel(s) in ${m.input.layout} order, expected ${wanted} for colorOrder ${m.input.colorOrder}`);
  }
  if (m.input.shape[0] !== 1) problems.push(`input.shape[0]: got ${m.input.shape[0]}, expected batch size 1`);
  const elements = m.input.shape.reduce((a, b) => a * b, 1);
  if (elements > manifestLimits.inputElements) {
    problems.push(`input.shape: got ${JSON.stringify(m.input.shape)} (${elements} elements), expected at most ${manifestLimits.inputElements} elements per input tensor`);
  }
  for (const key of ['mean', 'std'] as const) {
    const n = m.input.normalize[key].length;
    if (n !== 1 && n !== wanted) problems.push(`input.normalize.${key}: got ${n} values, expected 1 or ${wanted}`);
  }
  return problems.length ? { problems } : { manifest: m, problems };
}

export { inputGeometry };
