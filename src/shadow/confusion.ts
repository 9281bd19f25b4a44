// How two versions' verdicts compare, part by part: a 3 x 3 table of counts (rows: the active
// version's verdict, columns: the candidate's) over the verdicts a model gives.
export const modelVerdicts = ['pass', 'fail', 'uncertain'] as const;
export type ModelVerdict = (typeof modelVerdicts)[number];

export type ConfusionTable = Record<ModelVerdict, Record<ModelVerdict, number>>;

const emptyRow = (): Record<ModelVerdict, number> => ({ pass: 0, fail: 0, uncertain: 0 });

export class ConfusionMatrix {
  readonly #t: ConfusionTable = { pass: emptyRow(), fail: emptyRow(), uncertain: emptyRow() };
  #total = 0;
  #agreed = 0;

  add(active: ModelVerdict, candidate: ModelVerdict): void {
    this.#t[active][candidate]++;
    this.#total++;
    if (active === candidate) this.#agreed++;
  }

  get total(): number {
    return this.#total;
  }

  /** Share of parts where both gave the same verdict; null before the first part. */
  get agreement(): number | null {
    return this.#total === 0 ? null : this.#agreed / this.#total;
  }

  table(): ConfusionTable {
    return { pass: { ...this.#t.pass }, fail: { ...this.#t.fail }, uncertain: { ...this.#t.uncertain } };
  }
}

export const isModelVerdict = (v: string): v is ModelVerdict => (modelVerdicts as readonly string[]).includes(v);
