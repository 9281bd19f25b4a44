// Where channels, height and width sit in a model's input shape. A module of its own, free of
// the manifest's schema and validator, because the inference threads need only this.
export interface InputShape {
  shape: readonly number[];
  layout: 'NCHW' | 'NHWC';
}

export function inputGeometry(input: InputShape): { channels: number; height: number; width: number } {
  const [, a, b, c] = input.shape as [number, number, number, number];
  return input.layout === 'NCHW' ? { channels: a, height: b, width: c } : { channels: c, height: a, width: b };
}
